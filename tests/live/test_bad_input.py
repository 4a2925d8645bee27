"""Bad input to a live stream, in-process (issue 8): garbage, skipped and late segments, a
publisher that vanishes, subscribers that never read, control messages that are not JSON or
that the pipeline refuses, a resolution change. Each is reported as an error event where it
can be seen, the stream goes on or stops cleanly, a clean stream beside it is unaffected, and
nothing is left running afterwards (`run_clean` counts tasks and threads)."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest

from lpengine.live.pipelines import NoopPipeline
from lpengine.live.streams import LiveStreams
from lpengine.live.trickle import Channel
from tests.live.clips import decode_frames, decode_indices, ts_segments
from tests.live.inprocess import Node, collect, errors, events, feed, run_clean


def assert_clean_output(data: bytes, last: int, at_least: int) -> None:
    """One decodable stream: indices and times increasing, one size, ending with `last`."""
    frames = decode_frames(data)
    indices = [f[0] for f in frames]
    times = [f[1] for f in frames]
    assert len(frames) >= at_least, indices
    assert indices == sorted(indices) and indices[-1] == last, indices
    assert all(b > a for a, b in itertools.pairwise(times)), times
    assert len({f[2] for f in frames}) == 1, {f[2] for f in frames}


async def finish(node: Node, *inputs: Channel) -> None:
    for ch in inputs:  # the gateway is done: DELETE
        node.trickle.close_channel(ch.name)


def test_garbage_inside_and_between_segments_is_survived_beside_a_clean_stream():
    async def body(node: Node) -> None:
        bad, clean = node.start(), node.start()
        ins = [node.channel(bad), node.channel(clean)]
        outs = [asyncio.ensure_future(collect(node.channel(j, "-out"))) for j in (bad, clean)]
        ev = asyncio.ensure_future(events(node.channel(bad, "-events")))
        clip = ts_segments(2.0, gop_s=0.5)
        corrupt = [(t, d[:100] + bytes(len(d) - 200) + d[-100:]) for t, d in clip[1]]
        garbage = [(0.0, b"\x47\x1f\xff" + bytes(range(256)) * 40)]  # a sync byte, then junk
        await asyncio.gather(
            feed(ins[0], [clip[0], corrupt, garbage, *clip[2:]]), feed(ins[1], clip)
        )
        await finish(node, *ins)
        bad_out, clean_out = await asyncio.wait_for(asyncio.gather(*outs), 20)
        assert_clean_output(bad_out, 59, at_least=20)
        assert not set(decode_indices(bad_out)) & set(range(15, 30))  # zeroed: none decodable
        assert_clean_output(clean_out, 59, at_least=50)
        errs = errors(await asyncio.wait_for(ev, 20))
        assert any(e.startswith("damaged input: ") for e in errs), errs

    run_clean(body)


def test_skipped_and_late_segments_are_reported_and_skipped():
    async def body(node: Node) -> None:
        job = node.start()
        ch = node.channel(job)
        out = asyncio.ensure_future(collect(node.channel(job, "-out")))
        ev = asyncio.ensure_future(events(node.channel(job, "-events")))
        parts = ts_segments(3.0, gop_s=0.5)  # six segments of 15 frames
        await feed(ch, parts[:2], first_idx=0)
        await feed(ch, parts[3:4], first_idx=3)  # 2 skipped...
        await feed(ch, parts[2:3], first_idx=2)  # ...then sent late: too late to use
        await feed(ch, parts[4:], first_idx=4)
        await finish(node, ch)
        indices = [f[0] for f in decode_frames(await asyncio.wait_for(out, 20))]
        assert not set(indices) & set(range(30, 45)), indices  # segment 2 never played
        assert set(range(45, 60)) & set(indices) and indices[-1] == 89, indices
        errs = errors(await asyncio.wait_for(ev, 20))
        assert any("input segments 2-2 missing" in e for e in errs), errs

    run_clean(body)


def test_a_resolution_change_and_a_restarted_timeline_keep_one_output_stream():
    async def body(node: Node) -> None:
        job = node.start({"width": 384, "height": 384})
        ch = node.channel(job)
        out = asyncio.ensure_future(collect(node.channel(job, "-out")))
        ev = asyncio.ensure_future(events(node.channel(job, "-events")))
        small = ts_segments(1.5, size=(256, 256))
        large = ts_segments(1.5, size=(320, 320), first=45, first_pts=0)  # a new encoder
        await feed(ch, small + large)
        await finish(node, ch)
        data = await asyncio.wait_for(out, 20)
        assert_clean_output(data, 89, at_least=40)
        assert {f[2] for f in decode_frames(data)} == {(384, 384)}
        assert any(f[0] >= 45 for f in decode_frames(data))
        errs = errors(await asyncio.wait_for(ev, 20))
        assert any("input timestamps jumped" in e for e in errs), errs

    run_clean(body)


def test_a_publisher_that_vanishes_mid_segment_stops_the_stream_after_the_no_input_limit():
    async def body(node: Node) -> None:
        job = node.start()
        session = node.live.sessions[job.manifest_id]
        session.no_input_stop_s = 1.5
        ch = node.channel(job)
        out = asyncio.ensure_future(collect(node.channel(job, "-out")))
        ev = asyncio.ensure_future(events(node.channel(job, "-events")))
        clip = ts_segments(1.0)
        await feed(ch, clip)
        writer = ch.begin_segment()  # the publisher goes away after half a segment
        half = ts_segments(1.0, first=30)[0]
        for _, data in half[: len(half) // 2]:
            writer.write(data)
        await asyncio.wait_for(session.stopped.wait(), 20)
        assert session.stop_reason == "no input for 1.5 s"
        assert "no input for 1.5 s" in errors(await asyncio.wait_for(ev, 5))
        indices = [f[0] for f in decode_frames(await asyncio.wait_for(out, 5))]
        assert indices and max(indices) >= 29, indices

    run_clean(body)


def test_subscribers_that_never_read_hold_nothing_up():
    async def body(node: Node) -> None:
        job = node.start()
        idle = node.channel(job, "-out").subscribe(-1)  # subscribed, never asks for a segment
        stuck = asyncio.ensure_future(node.channel(job, "-events").subscribe(0).next())
        await asyncio.sleep(0)
        ev_seg = await stuck  # it got a segment and will never read its bytes
        out = asyncio.ensure_future(collect(node.channel(job, "-out")))
        await feed(node.channel(job), ts_segments(1.5))
        await finish(node, node.channel(job))
        assert_clean_output(await asyncio.wait_for(out, 20), 44, at_least=30)
        assert ev_seg is not None and await idle.next() is None

    run_clean(body)


def test_bad_control_messages_are_error_events_and_the_stream_keeps_the_good_ones():
    async def body(node: Node) -> None:
        job = node.start()
        session = node.live.sessions[job.manifest_id]
        ctl = node.channel(job, "-control")
        out = asyncio.ensure_future(collect(node.channel(job, "-out")))
        ev = asyncio.ensure_future(events(node.channel(job, "-events")))
        playing = asyncio.ensure_future(feed(node.channel(job), ts_segments(2.0)))
        watch = node.channel(job, "-events").subscribe(-1)

        async def answer() -> dict[str, Any]:
            """The next error or status event (skipping traces)."""
            while (seg := await watch.next()) is not None:
                doc: dict[str, Any] = json.loads(await seg.read_all())["event"]
                if doc["type"] in ("error", "status"):
                    return doc
            raise AssertionError("the events channel closed")

        for message, expected in (
            (b"not json", "control message is not JSON"),
            (b"\xff\xfe", "control message is not JSON"),
            (b"[1, 2]", "expected a JSON object, got list"),
            (b'{"width": 768}', "cannot change output resolution mid-stream"),
            (b'{"keep": "alive"}', None),  # ignored: no event
            (b'{"type": "update", "params": {"prompt": "kept"}}', "status"),
            (b'{"show_reloading_frame": "yes"}', "show_reloading_frame: expected true or false"),
        ):
            await ctl.publish(message)
            if expected == "status":
                doc = await asyncio.wait_for(answer(), 10)
                assert doc["type"] == "status", doc
                assert doc["inference_status"]["last_params"] == {"prompt": "kept"}
            elif expected is not None:
                doc = await asyncio.wait_for(answer(), 10)
                assert doc["type"] == "error" and expected in doc["message"], (message, doc)
        await playing
        await finish(node, node.channel(job))
        assert_clean_output(await asyncio.wait_for(out, 20), 59, at_least=40)
        assert len(errors(await asyncio.wait_for(ev, 20))) == 5
        assert session.pipeline.params == {"prompt": "kept"}

    run_clean(body)


def test_params_refused_at_start_release_the_slot_and_create_nothing():
    async def body(node: Node) -> None:
        for params, why in (
            ({"width": 100}, "width: expected 384-1024"),
            ({"height": "512"}, "height: expected an integer"),
            ({"show_reloading_frame": 1}, "show_reloading_frame: expected true or false"),
        ):
            with pytest.raises(ValueError, match=why):
                node.start(params)
        assert node.live.in_use("noop") == 0 and node.trickle.names() == []

    run_clean(body)


class ShrinksAfterTen(NoopPipeline):
    """Echoes ten frames, then crops every frame: its output resolution changes mid-stream."""

    name = "shrinks"

    def process(self, frames: Any) -> Any:
        self.calls = getattr(self, "calls", 0) + 1
        return frames if self.calls <= 10 else frames[:, 64:, 64:].copy()


def test_a_pipeline_whose_output_resolution_changes_is_stopped_after_three_errors():
    async def body(node: Node) -> None:
        available = {"noop": NoopPipeline, "shrinks": ShrinksAfterTen}
        node.live = LiveStreams(
            node.trickle, node.registry, "https://127.0.0.1:1", available=available
        )
        bad = node.live.start(node.live.reserve("shrinks"), {"width": 448, "height": 448})
        clean = node.live.start(node.live.reserve("noop"), {})
        ev = asyncio.ensure_future(events(node.channel(bad, "-events")))
        outs = [asyncio.ensure_future(collect(node.channel(j, "-out"))) for j in (bad, clean)]
        clip = ts_segments(2.0)
        feeds = [asyncio.ensure_future(feed(node.channel(j), clip)) for j in (bad, clean)]
        errs = errors(await asyncio.wait_for(ev, 20))  # the bad stream stops: its events end
        bad_out = await asyncio.wait_for(outs[0], 20)
        await feeds[1]
        await finish(node, node.channel(clean))
        await asyncio.gather(feeds[0], return_exceptions=True)
        resized = "Cannot change output resolution mid-stream (448x448 -> 384x384)"
        assert errs.count(f"live-video-to-video pipeline error: {resized}") == 3, errs
        assert 1 <= len(decode_indices(bad_out)) <= 10  # the frames before the change only
        assert_clean_output(await asyncio.wait_for(outs[1], 20), 59, at_least=50)

    run_clean(body)
