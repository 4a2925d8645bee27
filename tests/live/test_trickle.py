"""Trickle channels in-process: ring, long-poll, reset, close, idle sweep, the `_changes`
changefeed (live/trickle.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from lpengine.live.trickle import CHANGEFEED, RING_SIZE, Segment, Subscriber, TrickleServer


def run(fn: Callable[[TrickleServer], Awaitable[None]]) -> None:
    async def main() -> None:
        server = TrickleServer(idle_timeout_s=0.2, sweep_interval_s=0.05)
        try:
            await fn(server)
        finally:
            server.close_all()

    asyncio.run(main())


def test_publish_then_subscribe_newest():
    async def body(t: TrickleServer) -> None:
        ch = t.create_channel("a", "video/mp2t")
        assert t.create_channel("a", "other") is ch  # create is idempotent
        assert await ch.publish(b"zero") == 0
        assert await ch.publish(b"one") == 1
        sub = ch.subscribe(-2)
        seg = await sub.next()
        assert seg is not None and seg.idx == 1 and await seg.read_all() == b"one"

    run(body)


def test_subscriber_reads_a_segment_while_it_is_written():
    async def body(t: TrickleServer) -> None:
        ch = t.create_channel("a", "video/mp2t")
        sub = ch.subscribe(-1)
        pending = asyncio.ensure_future(sub.next())  # long-polls segment 0
        await asyncio.sleep(0)
        assert not pending.done()
        writer = ch.begin_segment()
        writer.write(b"first")
        seg = await pending
        assert seg is not None and seg.idx == 0
        chunks = seg.chunks()
        assert await anext(chunks) == b"first"  # before the segment ends
        writer.write(b"second")
        assert await anext(chunks) == b"second"
        writer.close()
        assert [c async for c in chunks] == []
        assert ch.next_write == 1

    run(body)


def test_ring_keeps_five_and_a_slow_subscriber_jumps_to_the_head():
    async def body(t: TrickleServer) -> None:
        ch = t.create_channel("a", "application/json")
        sub = ch.subscribe(0)
        for i in range(RING_SIZE + 2):
            await ch.publish(str(i).encode())
        assert ch.segment(0) is None and ch.segment(1) is None
        assert ch.segment(2) is not None
        pending = asyncio.ensure_future(sub.next())  # 0 is gone: waits for the next write
        await asyncio.sleep(0.01)
        assert not pending.done()
        await ch.publish(b"7")
        seg = await pending
        assert seg is not None and seg.idx == 7 and await seg.read_all() == b"7"

    run(body)


def test_reset_closes_older_segments_and_close_ends_subscribers():
    async def body(t: TrickleServer) -> None:
        ch = t.create_channel("a", "video/mp2t")
        old = ch.begin_segment()
        old.write(b"x")
        closed: list[str] = []
        ch.on_close(lambda: closed.append("a"))
        ch.reset_below(3)
        assert old.segment.closed
        sub = ch.subscribe(-1)
        waiting = asyncio.ensure_future(sub.next())
        await asyncio.sleep(0)
        assert t.close_channel("a") and not t.close_channel("a")
        assert await waiting is None
        assert closed == ["a"] and t.channel("a") is None
        with pytest.raises(RuntimeError, match="closed"):
            ch.begin_segment()

    run(body)


def test_idle_channels_are_swept_but_underscore_names_are_kept():
    async def body(t: TrickleServer) -> None:
        ch = t.create_channel("idle", "video/mp2t")
        t.create_channel("_internal", "application/json")
        gone = asyncio.Event()
        ch.on_close(gone.set)
        await asyncio.wait_for(gone.wait(), 5)
        assert t.names() == ["_internal"]

    run(body)


def test_repeated_write_of_an_index_overwrites_it():
    async def body(t: TrickleServer) -> None:
        ch = t.create_channel("a", "video/mp2t")
        await ch.publish(b"old")
        writer = ch.begin_segment(0)
        assert isinstance(writer.segment, Segment) and writer.segment.size == 0
        writer.write(b"new")
        writer.close()
        seg = ch.segment(0)
        assert seg is not None and await seg.read_all() == b"new"

    run(body)


def test_bad_names_are_refused():
    async def body(t: TrickleServer) -> None:
        with pytest.raises(ValueError, match="name"):
            t.create_channel("a/b", "video/mp2t")

    run(body)


def test_skip_holes_goes_past_a_missing_segment_and_the_default_waits():
    async def body(t: TrickleServer) -> None:
        ch = t.create_channel("a", "video/mp2t")
        await ch.publish(b"0")
        skipping, waiting = ch.subscribe(1, skip_holes=True), ch.subscribe(1)
        pending = [asyncio.ensure_future(s.next()) for s in (skipping, waiting)]
        await asyncio.sleep(0)
        writer = ch.begin_segment(2)  # 1 never comes
        writer.write(b"2")
        seg = await pending[0]
        assert seg is not None and seg.idx == 2 and skipping.skipped == 1
        assert not pending[1].done()  # the plain subscriber still waits for 1
        writer.close()
        late = ch.begin_segment(1)  # 1 after all, too late for the skipping one
        late.write(b"1")
        late.close()
        assert ch.next_write == 3  # a late segment does not move nextWrite back
        seg = await pending[1]
        assert seg is not None and seg.idx == 1
        await ch.publish(b"3")
        seg = await skipping.next()
        assert seg is not None and seg.idx == 3

    run(body)


def test_skip_holes_starts_at_the_first_segment_written_after_a_hole():
    async def body(t: TrickleServer) -> None:
        ch = t.create_channel("a", "video/mp2t")
        await ch.publish(b"0")
        for idx in (2, 3):  # 1 skipped, then two more before the subscriber asks
            writer = ch.begin_segment(idx)
            writer.write(str(idx).encode())
            writer.close()
        sub = ch.subscribe(1, skip_holes=True)
        seg = await sub.next()
        assert seg is not None and seg.idx == 2 and await seg.read_all() == b"2"
        ch.reset_below(0)  # a publisher restarting at 0 moves nextWrite back
        assert ch.next_write == 0

    run(body)


async def changes(sub: Subscriber, n: int) -> list[bytes]:
    """The next `n` changefeed segments, as written."""
    out = []
    for _ in range(n):
        seg = await asyncio.wait_for(sub.next(), 5)
        assert seg is not None
        out.append(await seg.read_all())
    return out


def test_the_changefeed_is_off_by_default():
    async def body(t: TrickleServer) -> None:
        t.create_channel("a", "video/mp2t")
        assert t.names() == ["a"] and t.channel(CHANGEFEED) is None

    run(body)


def test_the_changefeed_announces_channels_added_and_removed_as_go_does():
    server = TrickleServer(idle_timeout_s=1.0, sweep_interval_s=0.05, changefeed=True)  # no loop

    async def main() -> None:
        feed = server.channel(CHANGEFEED)
        assert feed is not None and feed.mime_type == "application/json"
        sub = feed.subscribe(0)
        assert await changes(sub, 1) == [b'{"added":["_changes"]}']
        kept = server.create_channel("kept", "application/json")
        server.create_channel("idle", "video/mp2t")
        server.create_channel("kept", "application/json")  # it exists: no change
        assert await changes(sub, 2) == [b'{"added":["kept"]}', b'{"added":["idle"]}']
        assert server.close_channel("kept") and not server.close_channel("kept")
        assert await changes(sub, 1) == [b'{"removed":["kept"]}']
        assert kept.closed
        # The idle sweep removes "idle" (its removal announced) and keeps "_changes".
        assert await changes(sub, 1) == [b'{"removed":["idle"]}']
        assert server.names() == [CHANGEFEED]
        server.close_all()  # the node stops: the changefeed ends, with no more changes
        assert await asyncio.wait_for(sub.next(), 5) is None
        assert server.names() == []

    asyncio.run(main())


def test_a_deleted_changefeed_comes_back_with_the_next_change():
    async def main() -> None:
        server = TrickleServer(changefeed=True)
        assert server.close_channel(CHANGEFEED) and server.names() == []
        server.create_channel("a", "video/mp2t")
        feed = server.channel(CHANGEFEED)
        assert feed is not None
        got = await changes(feed.subscribe(0), 2)
        assert got == [b'{"added":["_changes"]}', b'{"added":["a"]}']
        server.close_all()

    asyncio.run(main())
