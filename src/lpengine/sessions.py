"""Open transcoding sessions and the limit on them (-maxSessions), changeable at runtime.

A session is named by the `session_id` of the auth token it runs under. `OrchestratorCapped` is
what gateways see once the open sessions reach the limit (protocol.md §5.1, §10). With `idle_s`
a session unused that long is closed (go tears a transcode session down after 70 s idle).

A static session count fits one kind of stream only: ten 4K ladders and ten 360p ones cost very
different amounts. With a pixel-rate limit (`-maxPixelRate`, encoded pixels per second of media
across all sessions) the limit follows what the open streams actually cost: it is the number of
sessions of their measured average rate that fit, capped by the session count.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

AUTO: Literal["auto"] = "auto"
DEFAULT_MAX_SESSIONS = 10
SESSION_IDLE_S = 70.0  # protocol.md §9
# A session's assumed cost before one of its segments is measured: go's default ladder
# (P720p30fps16x9 + P360p30fps16x9, protocol.md) at 30 fps.
DEFAULT_SESSION_PIXEL_RATE = (1280 * 720 + 640 * 360) * 30
MaxSessions = int | Literal["auto"]


class OrchestratorCapped(Exception):
    def __init__(self) -> None:
        super().__init__("OrchestratorCapped")


def parse_max_sessions(value: str | int) -> MaxSessions:
    """-maxSessions: a positive integer or 'auto'."""
    if value == AUTO:
        return AUTO
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n <= 0:
        raise ValueError(f"maxSessions: expected 'auto' or an integer > 0, got {value!r}")
    return n


class Sessions:
    """The open sessions; `limit` is the configured number, or under 'auto' the capacity the
    transcoding workloads report (local plus remote transcoders)."""

    def __init__(
        self, max_sessions: MaxSessions = DEFAULT_MAX_SESSIONS, idle_s: float | None = None
    ) -> None:
        self._open: dict[str, float] = {}  # session id -> monotonic time of its last use
        self._idle_s = idle_s
        self._lock = threading.Lock()
        self._auto_capacity: dict[str, int] = {}
        self.max_sessions: MaxSessions = max_sessions
        self.max_pixel_rate = 0  # 0: no pixel-rate limit
        self._rates: Callable[[], dict[str, float]] = dict

    def set_pixel_rate_limit(
        self, max_pixel_rate: int, rates: Callable[[], dict[str, float]] | None = None
    ) -> None:
        """Limits the sessions to what `max_pixel_rate` encoded pixels/s can carry (0: no
        limit); `rates` gives each measured session's encoded pixels per second."""
        if max_pixel_rate < 0:
            raise ValueError(f"maxPixelRate: expected >= 0 pixels/s, got {max_pixel_rate}")
        self.max_pixel_rate = max_pixel_rate
        if rates is not None:
            self._rates = rates

    def pixel_rate_sessions(self) -> int | None:
        """How many sessions the pixel-rate limit admits (None without one): the limit over
        the open sessions' mean measured rate, or over DEFAULT_SESSION_PIXEL_RATE."""
        if not self.max_pixel_rate:
            return None
        measured = [r for sid, r in self._rates().items() if sid in self._open and r > 0]
        mean = sum(measured) / len(measured) if measured else DEFAULT_SESSION_PIXEL_RATE
        return int(self.max_pixel_rate // mean)

    def set_max_sessions(self, value: MaxSessions) -> None:
        self.max_sessions = parse_max_sessions(value)

    def set_auto_capacity(self, source: str, capacity: int) -> None:
        """What `source` can run at once; summed into the limit under -maxSessions auto."""
        with self._lock:
            if capacity > 0:
                self._auto_capacity[source] = capacity
            else:
                self._auto_capacity.pop(source, None)

    @property
    def limit(self) -> int:
        if self.max_sessions == AUTO:
            count = sum(self._auto_capacity.values())
        else:
            count = self.max_sessions
        by_rate = self.pixel_rate_sessions()
        return count if by_rate is None else min(count, by_rate)

    @property
    def count(self) -> int:
        return len(self._open)

    def is_open(self, session_id: str) -> bool:
        return session_id in self._open

    def full(self) -> bool:
        with self._lock:
            self._close_idle()
        return self.count >= self.limit

    def check_capacity(self, session_id: str = "") -> None:
        """Raises OrchestratorCapped unless `session_id` is open or a new session fits."""
        if not self.is_open(session_id) and self.full():
            raise OrchestratorCapped()

    def open(self, session_id: str) -> None:
        """Opens a session, or marks an open one used now; raises OrchestratorCapped at the
        limit."""
        with self._lock:
            self._close_idle()
            if session_id not in self._open and len(self._open) >= self.limit:
                raise OrchestratorCapped()
            self._open[session_id] = time.monotonic()

    def _close_idle(self) -> None:
        """NOTE: under the lock."""
        if self._idle_s is None:
            return
        oldest = time.monotonic() - self._idle_s
        for session_id in [s for s, used in self._open.items() if used < oldest]:
            del self._open[session_id]

    def end(self, session_id: str) -> bool:
        """Ends a session; returns whether it was open."""
        with self._lock:
            return self._open.pop(session_id, None) is not None
