"""Trickle channels: the state behind `/ai/trickle/` and the in-process API for workloads.

A channel is a named stream of numbered segments (protocol.md §4.7). Each segment is a byte
stream that publishers append to and subscribers read while it grows, so a subscriber sees a
segment's first bytes while it is still being uploaded. A channel keeps the last 5 segments
(slot `idx % 5`); older ones are gone (`470` over HTTP). Channels are created only by the node
(`create_channel`), never by publishers, and are closed by `close_channel` (DELETE), by the idle
sweep (no write for 5 minutes; names starting with `_` are exempt), or by `TrickleServer.close`.

With `changefeed` (off by default, as in go-livepeer's trickle server; `-trickleChangefeed`),
the server also keeps the `_changes` channel (application/json): each channel created or
removed is one segment, `{"added": ["<name>"]}` or `{"removed": ["<name>"]}`, the first one
announcing `_changes` itself. Removal covers DELETE and the idle sweep, not the shutdown
(`close_all`), which ends `_changes` too; deleted, `_changes` comes back with the next change.

Everything here runs on one asyncio event loop (the server's): no locks, and nothing blocks.
Workloads on the same loop use channels directly, without HTTP:

    channels = engine.trickle                           # a TrickleServer
    ch = channels.create_channel("abc-out", "video/mp2t")
    await ch.publish(b"...segment bytes...")            # one whole segment at nextWrite
    writer = ch.begin_segment()                         # or stream one: write(), write(), close()
    sub = channels.channel("abc").subscribe(start=-2)   # the newest segment, then each next one
    while (seg := await sub.next()) is not None:         # None: the channel closed
        data = await seg.read_all()                     # or: async for chunk in seg.chunks()
    ch.on_close(lambda: ...)                            # called once when the channel closes
    channels.close_channel("abc-out")          # close_all() at shutdown
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable

log = logging.getLogger(__name__)

RING_SIZE = 5  # segments kept per channel
IDLE_TIMEOUT_S = 300.0  # a channel with no write for this long is closed
SWEEP_INTERVAL_S = 60.0
CHANGEFEED = "_changes"  # NOTE: "_": exempt from the idle sweep


class Segment:
    """One numbered segment: bytes appended by one writer, read by any number of readers."""

    def __init__(self, idx: int) -> None:
        self.idx = idx
        self._chunks: list[bytes] = []
        self._size = 0
        self.closed = False
        self._wake = asyncio.Event()

    @property
    def size(self) -> int:
        return self._size

    @property
    def fresh(self) -> bool:
        """Nothing written and not closed (pre-created by a waiting reader)."""
        return not self.closed and self._size == 0

    def write(self, data: bytes) -> None:
        if self.closed or not data:
            return
        self._chunks.append(bytes(data))
        self._size += len(data)
        self._signal()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._signal()

    def reset(self) -> None:
        """Drops what was written (a repeated POST of the same index overwrites it); readers
        already past the start see the end of the segment."""
        self._chunks.clear()
        self._size = 0
        self.closed = False
        self._signal()

    def _signal(self) -> None:
        wake, self._wake = self._wake, asyncio.Event()
        wake.set()

    async def started(self) -> None:
        """Returns once the segment has a byte or is closed."""
        while self._size == 0 and not self.closed:
            await self._wake.wait()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The buffered bytes, then live bytes as they are written, until the segment closes."""
        index, offset = 0, 0
        while True:
            if index < len(self._chunks):
                chunk = self._chunks[index]
                index += 1
                offset += len(chunk)
                yield chunk
                continue
            if offset > self._size or self.closed:  # reset under us, or done
                return
            await self._wake.wait()

    async def read_all(self) -> bytes:
        return b"".join([c async for c in self.chunks()])


class SegmentWriter:
    """Streams one segment of a channel (in-process publishers)."""

    def __init__(self, channel: Channel, segment: Segment) -> None:
        self.channel = channel
        self.segment = segment

    @property
    def seq(self) -> int:
        return self.segment.idx

    def write(self, data: bytes) -> None:
        if data and self.segment.size == 0:
            self.channel.mark_written(self.segment.idx)
        self.segment.write(data)

    def close(self) -> None:
        if self.segment.size == 0:  # a zero-byte segment still advances nextWrite
            self.channel.mark_written(self.segment.idx)
        self.segment.close()


class Subscriber:
    """Reads a channel segment by segment in-process, as trickle subscribers do over HTTP:
    start at -2 (the newest segment) or -1 (the next one); one that falls out of the ring
    jumps to the next segment to be written. With `skip_holes`, a segment still empty when a
    later one has begun is skipped (a live input whose publisher skipped a seq, or posts out
    of order, goes on at once instead of after the ring wraps); `skipped` counts them."""

    def __init__(self, channel: Channel, start: int = -2, skip_holes: bool = False) -> None:
        self.channel = channel
        self.skip_holes = skip_holes
        self.skipped = 0
        self._next = start
        self._last = -1

    async def next(self) -> Segment | None:
        """The next segment (possibly still being written, possibly empty); None once the
        channel is closed."""
        while True:
            if self.channel.closed:
                return None
            outcome = self.channel.segment_for_read(self._next)
            if isinstance(outcome, int) and self.skip_holes and self._next >= 0:
                later = (self.channel.segment(i) for i in range(self._next + 1, outcome))
                if (seg := next((s for s in later if s is not None), None)) is not None:
                    self.skipped += 1  # a hole, then segments already written: the first
                    self._next = seg.idx
                    continue
            if isinstance(outcome, int):  # gone, or not written yet: go to the head
                if outcome <= self._last:
                    await asyncio.sleep(0.25)  # NOTE: as trickle clients do on 470
                self._next = outcome
                continue
            if self.skip_holes and not await self._started_before_a_later_one(outcome):
                self.skipped += 1
                self._next = outcome.idx + 1
                continue
            await outcome.started()
            if outcome.size == 0 and self.channel.closed:
                return None
            self._next = outcome.idx + 1
            self._last = outcome.idx
            return outcome

    async def _started_before_a_later_one(self, seg: Segment) -> bool:
        """Waits until `seg` has a byte or is closed (True), or a later segment has begun
        while `seg` is still empty (False)."""
        ch = self.channel
        while seg.fresh and not ch.closed:
            if ch.next_write > seg.idx + 1:
                return False
            waits = {
                asyncio.ensure_future(seg.started()),
                asyncio.ensure_future(ch.written_past(seg.idx)),
            }
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waits:
                    task.cancel()
        return True


class Channel:
    """One trickle channel: a ring of segments, the next index to write, open or closed."""

    def __init__(self, name: str, mime_type: str) -> None:
        self.name = name
        self.mime_type = mime_type
        self._ring: list[Segment | None] = [None] * RING_SIZE
        self.next_write = 0
        self.closed = False
        self.last_write = time.monotonic()
        self._on_close: list[Callable[[], None]] = []
        self._written = asyncio.Event()

    def segment(self, idx: int) -> Segment | None:
        """The segment with index `idx` if the ring still holds it."""
        seg = self._ring[idx % RING_SIZE] if idx >= 0 else None
        return seg if seg is not None and seg.idx == idx else None

    def resolve(self, idx: int) -> int:
        """-1: the next index to write; -2: the last one written (0 when none)."""
        if idx == -1:
            return self.next_write
        if idx == -2:
            return max(self.next_write - 1, 0)
        return idx

    def segment_for_write(self, idx: int) -> tuple[Segment, bool]:
        """The segment a POST writes into, and whether it overwrites one that had data."""
        idx = self.resolve(idx)
        if idx < 0:
            raise ValueError(f"idx: expected >= -2, got {idx}")
        pos = idx % RING_SIZE
        seg = self._ring[pos]
        if seg is not None and seg.idx == idx:
            return seg, not seg.fresh
        if seg is not None:
            seg.close()  # an older segment in this slot: gone
        seg = self._ring[pos] = Segment(idx)
        return seg, False

    def segment_for_read(self, idx: int) -> Segment | int:
        """The segment a GET reads: present, or pre-created when `idx` is the next one to be
        written (the reader long-polls). Else nextWrite, the newest index a reader can ask for.
        """
        idx = self.resolve(idx)
        seg = self.segment(idx)
        ahead = idx == self.next_write or (self.next_write == 0 and idx == 1)
        if seg is None and not self.closed and ahead:
            old = self._ring[idx % RING_SIZE]
            if old is not None:
                old.close()
            seg = self._ring[idx % RING_SIZE] = Segment(idx)
        return seg if seg is not None else self.next_write

    def mark_written(self, idx: int) -> None:
        """The first byte of `idx` arrived (or it ended empty): nextWrite moves past it (never
        back: a late segment written out of order leaves it; a reset moves it back)."""
        self.next_write = max(self.next_write, idx + 1)
        self.last_write = time.monotonic()
        wake, self._written = self._written, asyncio.Event()
        wake.set()

    async def written_past(self, idx: int) -> None:
        """Returns once nextWrite is past `idx` (a segment after it has begun), or the channel
        closed."""
        while self.next_write <= idx + 1 and not self.closed:
            await self._written.wait()

    def reset_below(self, idx: int) -> None:
        """A publisher restarted at `idx`: every older segment ends now, and nextWrite is
        `idx` until it writes."""
        self.next_write = min(self.next_write, max(idx, 0))
        for seg in self._ring:
            if seg is not None and seg.idx < idx:
                seg.close()

    def close_segment(self, idx: int) -> bool:
        seg = self.segment(idx)
        if seg is None:
            return False
        seg.close()
        return True

    def on_close(self, callback: Callable[[], None]) -> None:
        """`callback()` once when the channel closes (at once if it already has)."""
        if self.closed:
            callback()
        else:
            self._on_close.append(callback)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._written.set()
        for seg in self._ring:
            if seg is not None:
                seg.close()
        callbacks, self._on_close = self._on_close, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # one broken listener must not keep the others open
                log.exception("trickle channel %s: close callback failed", self.name)

    # --- in-process publishing and subscribing ------------------------------------------------

    def begin_segment(self, idx: int = -1) -> SegmentWriter:
        """A writer for segment `idx` (default: nextWrite); raises RuntimeError once closed."""
        if self.closed:
            raise RuntimeError(f"trickle channel {self.name} is closed")
        seg, overwritten = self.segment_for_write(idx)
        if overwritten:
            seg.reset()
        return SegmentWriter(self, seg)

    async def publish(self, data: bytes) -> int:
        """One whole segment at nextWrite; returns its index."""
        writer = self.begin_segment()
        writer.write(data)
        writer.close()
        return writer.seq

    def subscribe(self, start: int = -2, skip_holes: bool = False) -> Subscriber:
        return Subscriber(self, start, skip_holes)


class TrickleServer:
    """All trickle channels of a node, the idle sweep, and the in-process API."""

    def __init__(
        self,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        sweep_interval_s: float = SWEEP_INTERVAL_S,
        changefeed: bool = False,
    ) -> None:
        """`changefeed`: keep the `_changes` channel (made here, so it may run off the loop)."""
        self.idle_timeout_s = idle_timeout_s
        self.sweep_interval_s = sweep_interval_s
        self.changefeed = changefeed
        self._channels: dict[str, Channel] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._announce("added", CHANGEFEED)

    def __len__(self) -> int:
        return len(self._channels)

    def names(self) -> list[str]:
        return sorted(self._channels)

    def channel(self, name: str) -> Channel | None:
        return self._channels.get(name)

    def create_channel(self, name: str, mime_type: str) -> Channel:
        """A new channel, or the existing one of that name. Must run on the server's loop."""
        if not name or "/" in name:
            raise ValueError(f"name: expected one non-empty path segment, got {name!r}")
        ch = self._channels.get(name)
        if ch is None:
            ch = self._channels[name] = Channel(name, mime_type)
            log.debug("trickle channel %s created (%s)", name, mime_type)
            self._announce("added", name)
        self._start_sweeper()
        return ch

    def close_channel(self, name: str) -> bool:
        """Closes (every segment ends, readers see the end) and forgets a channel; returns
        whether it existed."""
        ch = self._channels.pop(name, None)
        if ch is None:
            return False
        ch.close()
        log.debug("trickle channel %s closed", name)
        if name != CHANGEFEED:
            self._announce("removed", name)
        return True

    def _announce(self, change: str, name: str) -> None:
        """One changefeed segment, `{change: [name]}`, if the changefeed is on; a missing
        `_changes` is made first (announcing itself, then `name`)."""
        if not self.changefeed:
            return
        feed = self._channels.get(CHANGEFEED)
        if feed is None:
            feed = self._channels[CHANGEFEED] = Channel(CHANGEFEED, "application/json")
            if name != CHANGEFEED:
                self._announce("added", CHANGEFEED)
        writer = feed.begin_segment()
        # NOTE: compact, byte for byte what go's json.Marshal writes.
        writer.write(json.dumps({change: [name]}, separators=(",", ":")).encode())
        writer.close()

    def sweep(self, now: float | None = None) -> list[str]:
        """Closes the channels idle past the timeout; returns their names."""
        oldest = (time.monotonic() if now is None else now) - self.idle_timeout_s
        idle = [
            n
            for n, ch in self._channels.items()
            if not n.startswith("_") and ch.last_write < oldest
        ]
        for name in idle:
            log.info("trickle channel %s closed: no write for %.0f s", name, self.idle_timeout_s)
            self.close_channel(name)
        return idle

    def _start_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while self._channels:
            await asyncio.sleep(self.sweep_interval_s)
            self.sweep()

    def close_all(self) -> None:
        """Closes every channel and stops the sweep (the node is shutting down)."""
        self.changefeed = False  # NOTE: before the channels go: nothing more is announced
        for name in list(self._channels):
            self.close_channel(name)
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
