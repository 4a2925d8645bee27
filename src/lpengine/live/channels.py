"""A live stream's four trickle channels, and the sink that carries the encoder's bytes (worker
thread) into the output channel's segments (event loop): one segment per IDR, each begun by
`cut`, so every segment starts with PAT/PMT and a key frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from lpengine.live.trickle import Channel, SegmentWriter


@dataclass(frozen=True)
class StreamChannels:
    input: Channel
    output: Channel
    control: Channel
    events: Channel

    def all(self) -> tuple[Channel, ...]:
        return (self.input, self.output, self.control, self.events)


class OutputSink:
    """The encoder's byte sink (worker thread) → the output channel's segments (event loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, channel: Channel) -> None:
        self._loop, self._channel = loop, channel
        self._writer: SegmentWriter | None = None
        self.segments = 0
        self.on_first_segment: Callable[[], None] = lambda: None

    def write(self, data: bytes) -> int:
        chunk = bytes(data)
        self._loop.call_soon_threadsafe(self._write, chunk)
        return len(chunk)

    def cut(self) -> None:
        self._loop.call_soon_threadsafe(self._cut)

    def finish(self) -> None:
        self._loop.call_soon_threadsafe(self._finish)

    def _write(self, chunk: bytes) -> None:
        if self._writer is not None:
            self._writer.write(chunk)

    def _cut(self) -> None:
        self._finish()
        if self._channel.closed:
            return
        self._writer = self._channel.begin_segment()
        self.segments += 1
        if self.segments == 1:
            self.on_first_segment()

    def _finish(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
