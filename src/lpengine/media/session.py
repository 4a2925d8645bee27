"""Per-stream transcoding sessions: segment order, the queue limit, continuous timestamps.

A gateway sends a stream's segments under one session (its auth token's `session_id`). Each
session runs its segments one at a time, in arrival order, with at most QUEUE_DEPTH of them
waiting or running: one more is refused with `OrchestratorBusy` (go's per-session queue of 4,
protocol.md §4.2 step 14). The session's `Timeline` keeps output timestamps continuous across
its segments. Sessions idle for longer than the engine's idle time are dropped.

    sessions = TranscodeSessions()
    result = sessions.get("abc").transcode(segment, profiles)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from lpengine.media.profile import VideoCodec, VideoProfile
from lpengine.media.transcode import Clip, Timeline, TranscodeResult, transcode_segment

QUEUE_DEPTH = 4  # protocol.md §9
ORCHESTRATOR_BUSY = "OrchestratorBusy"  # protocol.md §10


class OrchestratorBusy(Exception):
    def __init__(self) -> None:
        super().__init__(ORCHESTRATOR_BUSY)


@dataclass(frozen=True)
class SessionStats:
    segments: int
    decoded_frames: int
    decoded_pixels: int
    encoded_pixels: int
    pixels_per_s: float  # encoded pixels per second of media, over the last segment


class TranscodeSession:
    def __init__(self, session_id: str, encoders: Mapping[VideoCodec, str] | None = None) -> None:
        self.session_id = session_id
        self.encoders = encoders
        self.timeline = Timeline()
        self._run = threading.Lock()  # one segment at a time (FIFO enough: see NOTE below)
        self._count = threading.Lock()
        self._queued = 0
        self.last_used = time.monotonic()
        self.segments = self.decoded_frames = self.decoded_pixels = self.encoded_pixels = 0
        self.pixels_per_s = 0.0

    def transcode(
        self,
        segment: bytes,
        profiles: Sequence[VideoProfile],
        *,
        clip: Clip | None = None,
        reset: bool = False,
    ) -> TranscodeResult:
        """Transcodes after the session's earlier segments; raises OrchestratorBusy when
        QUEUE_DEPTH segments are already waiting or running, else as `transcode_segment`.
        reset: start a new timeline (SegData.ForceSessionReinit)."""
        with self._count:
            if self._queued >= QUEUE_DEPTH:
                raise OrchestratorBusy()
            self._queued += 1
            self.last_used = time.monotonic()
        try:
            # NOTE: threading.Lock is not strictly FIFO, but a gateway sends a stream's
            # segments one after another and waits for each: waiters here are retries.
            with self._run:
                if reset:
                    self.timeline = Timeline()
                result = transcode_segment(
                    segment, profiles, clip=clip, timeline=self.timeline, encoders=self.encoders
                )
                self._account(result)
                return result
        finally:
            with self._count:
                self._queued -= 1
                self.last_used = time.monotonic()

    @property
    def queued(self) -> int:
        return self._queued

    def stats(self) -> SessionStats:
        return SessionStats(
            self.segments,
            self.decoded_frames,
            self.decoded_pixels,
            self.encoded_pixels,
            self.pixels_per_s,
        )

    def _account(self, result: TranscodeResult) -> None:
        self.segments += 1
        self.decoded_frames += result.decoded_frames
        self.decoded_pixels += result.decoded_pixels
        self.encoded_pixels += result.encoded_pixels
        if result.duration_s > 0:
            self.pixels_per_s = result.encoded_pixels / result.duration_s


class TranscodeSessions:
    """The sessions by id; `prune` drops those its caller no longer counts as open."""

    def __init__(self, encoders: Mapping[VideoCodec, str] | None = None) -> None:
        self.encoders = encoders  # FFmpeg's encoder per codec (default: software)
        self._sessions: dict[str, TranscodeSession] = {}
        self._lock = threading.Lock()

    def get(self, session_id: str) -> TranscodeSession:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                session = TranscodeSession(session_id, self.encoders)
                self._sessions[session_id] = session
            return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def prune(self, is_open: Callable[[str], bool]) -> None:
        """Drops the idle sessions that are not open any more (none with work in flight)."""
        with self._lock:
            for sid in [s for s, v in self._sessions.items() if not is_open(s) and not v.queued]:
                del self._sessions[sid]

    def pixel_rates(self) -> dict[str, float]:
        """Encoded pixels per second of media of each session, as last measured."""
        with self._lock:
            return {sid: s.pixels_per_s for sid, s in self._sessions.items() if s.pixels_per_s}

    def __len__(self) -> int:
        return len(self._sessions)
