"""The input side of a live stream: trickle segments in, decoded yuv420p frames out.

The segments of the input channel are one continuous MPEG-TS byte stream: the session feeds
their bytes into a `ByteFeed` as they arrive and one decode thread demuxes and decodes it with
PyAV. Video frames go to `on_video` as yuv420p arrays with their time in seconds; audio packets
go to `on_audio` undecoded (they are passed through). Bad input is reported through `on_error`
and survived: a packet that does not decode is skipped (at most `MAX_DECODE_ERRORS` per
stream), and a stream that cannot be demuxed is reopened on the bytes that follow (at most
`MAX_OPEN_ATTEMPTS` times). Damaged input (MPEG-TS packets lost or garbled, which the demuxer
flags, and frames the decoder could only conceal) is reported, and a concealed frame is not
passed on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

MAX_DECODE_ERRORS = 10  # per stream (ai-runner's budget)
MAX_OPEN_ATTEMPTS = 3
CORRUPT_REPORT_S = 1.0  # damaged input is reported at most this often
# NOTE: a short probe: frames decoded during it reach the pipeline in one burst, which the
# latest-frame-wins queue would thin out.
PROBE = {"probesize": "65536", "analyzeduration": "250000"}


class DecodeFailed(Exception):
    """The input could not be decoded any more: the stream stops."""


class ByteFeed:
    """A file object over bytes pushed from another thread; `read` blocks until some arrive,
    and returns b"" once `end` was called and everything was read."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._buffer = b""
        self._ended = False
        self.received = 0

    def feed(self, data: bytes) -> None:
        if data:
            self.received += len(data)
            self._queue.put(bytes(data))

    def end(self) -> None:
        self._queue.put(None)

    def read(self, size: int = -1) -> bytes:
        while not self._buffer and not self._ended:
            item = self._queue.get()
            if item is None:
                self._ended = True
            else:
                self._buffer = item
        n = len(self._buffer) if size < 0 else size
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    @property
    def ended(self) -> bool:
        return self._ended


def yuv420p(frame: av.VideoFrame) -> NDArray[np.uint8]:
    """A decoded frame as [H * 3 / 2, W] uint8 yuv420p (odd sizes cropped to even)."""
    w, h = frame.width & ~1, frame.height & ~1
    if frame.format.name != "yuv420p" or (w, h) != (frame.width, frame.height):
        frame = frame.reformat(width=w, height=h, format="yuv420p")
    return np.asarray(frame.to_ndarray())


def run_decoder(
    feed: ByteFeed,
    on_video: Callable[[NDArray[np.uint8], float], None],
    on_audio: Callable[[Any, Any], None],
    on_error: Callable[[str], None],
    stop: threading.Event,
    on_open: Callable[[Any | None], None] = lambda audio: None,
) -> None:
    """Decodes `feed` until it ends or `stop` is set; raises DecodeFailed when the input cannot
    be decoded any more. on_open(input audio stream or None) once the streams are known,
    on_audio(packet, input audio stream)."""
    attempts = errors = 0
    while not stop.is_set() and not feed.ended:
        try:
            container = av.open(feed, "r", format="mpegts", options=PROBE)
        except (av.FFmpegError, ValueError) as err:
            attempts += 1
            on_error(f"cannot open the input stream: {err}")
            if attempts >= MAX_OPEN_ATTEMPTS:
                raise DecodeFailed(f"input stream not decodable after {attempts} tries") from err
            continue
        try:
            errors = _decode(container, on_video, on_audio, on_error, on_open, stop, errors)
            if feed.ended or stop.is_set():
                return
        except av.FFmpegError as err:  # the demuxer gave up: reopen on what follows
            attempts += 1
            on_error(f"input demux error: {err}")
            if attempts >= MAX_OPEN_ATTEMPTS:
                raise DecodeFailed(f"input stream not decodable after {attempts} tries") from err
        finally:
            container.close()


def _decode(
    container: Any,
    on_video: Callable[[NDArray[np.uint8], float], None],
    on_audio: Callable[[Any, Any], None],
    on_error: Callable[[str], None],
    on_open: Callable[[Any | None], None],
    stop: threading.Event,
    errors: int,
) -> int:
    video = container.streams.video[0] if container.streams.video else None
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is None:
        raise av.error.InvalidDataError(0, "no video stream in the input")
    # NOTE: slice threads only: frame threads hold one decoded frame back per thread, which
    # is latency added to every frame of a live stream (x264 zerolatency input has slices).
    video.thread_type = "SLICE"
    on_open(audio)
    damage = _Damage(on_error)
    for packet in container.demux(*(s for s in (video, audio) if s is not None)):
        if stop.is_set():
            break
        if packet.is_corrupt:
            damage.add("packet")
        if packet.stream is audio:
            if packet.pts is not None and packet.size:
                on_audio(packet, audio)
            continue
        try:
            frames = packet.decode()
        except av.FFmpegError as err:
            errors += 1
            on_error(f"input decode error ({errors} of {MAX_DECODE_ERRORS}): {err}")
            if errors >= MAX_DECODE_ERRORS:
                raise DecodeFailed(f"{errors} decode errors in the input") from err
            continue
        for frame in frames:
            if frame.is_corrupt:
                damage.add("frame")
                continue
            if frame.pts is None or frame.time is None:
                continue
            on_video(yuv420p(frame), float(frame.time))
    return errors


class _Damage:
    """Counts damaged input packets and frames; reports the counts at most every
    CORRUPT_REPORT_S."""

    def __init__(self, on_error: Callable[[str], None]) -> None:
        self._on_error = on_error
        self.counts = {"packet": 0, "frame": 0}
        self._reported_at: float | None = None

    def add(self, kind: str) -> None:
        self.counts[kind] += 1
        now = time.monotonic()
        if self._reported_at is None or now - self._reported_at >= CORRUPT_REPORT_S:
            self._reported_at = now
            packets, frames = self.counts["packet"], self.counts["frame"]
            self._on_error(
                f"damaged input: {packets} corrupt packets, {frames} concealed frames dropped "
                "so far"
            )
