"""A live node without HTTP for tests: trickle channels, the streams, feeding and reading them
on one event loop, and the check that nothing is left running once everything closed."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from lpengine.capability_registry import CapabilityRegistry
from lpengine.live.streams import LiveJob, LiveStreams
from lpengine.live.trickle import Channel, TrickleServer

Segments = list[list[tuple[float, bytes]]]


class Node:
    def __init__(self) -> None:
        self.trickle = TrickleServer()
        self.registry = CapabilityRegistry("1.0")
        self.live = LiveStreams(self.trickle, self.registry, "https://127.0.0.1:1")

    def start(self, params: dict[str, Any] | None = None) -> LiveJob:
        return self.live.start(self.live.reserve("noop"), params or {})

    def channel(self, job: LiveJob, suffix: str = "") -> Channel:
        ch = self.trickle.channel(job.manifest_id + suffix)
        assert ch is not None, f"no channel {job.manifest_id}{suffix}"
        return ch


async def feed(ch: Channel, segments: Segments, first_idx: int | None = None) -> None:
    """Writes each segment's bytes when their media time comes (counted from the first
    segment's), as a live publisher does; segment k goes to index first_idx + k (default: the
    channel's next)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time() - (segments[0][0][0] if segments and segments[0] else 0.0)
    for k, seg in enumerate(segments):
        writer = ch.begin_segment(-1 if first_idx is None else first_idx + k)
        for t, data in seg:
            await asyncio.sleep(max(0.0, t0 + t - loop.time()))
            writer.write(data)
        writer.close()


async def collect(ch: Channel) -> bytes:
    """Every segment of a channel from 0, joined, until it closes."""
    sub, out = ch.subscribe(0), []
    while (seg := await sub.next()) is not None:
        out.append(await seg.read_all())
    return b"".join(out)


async def events(ch: Channel) -> list[dict[str, Any]]:
    sub, out = ch.subscribe(0), []
    while (seg := await sub.next()) is not None:
        out.append(json.loads(await seg.read_all()))
    return out


def errors(evs: list[dict[str, Any]]) -> list[str]:
    return [str(e["event"]["message"]) for e in evs if e["event"]["type"] == "error"]


def run_clean(body: Callable[[Node], Awaitable[None]]) -> None:
    """Runs `body` on a fresh loop and node, then checks that every stream ended, every channel
    closed, and no task or thread of the node is left."""
    threads_before = {t.ident for t in threading.enumerate()}

    async def main() -> None:
        node = Node()
        await body(node)
        assert node.live.sessions == {}, list(node.live.sessions)
        assert node.trickle.names() == []
        node.trickle.close_all()
        await asyncio.sleep(0)  # cancelled tasks finish
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert left == [], left

    asyncio.run(main())
    left = [t for t in threading.enumerate() if t.ident not in threads_before]
    assert left == [], left
