"""What a live stream reports on its events channel (ai-api.md §9.6-§9.7).

`LiveStatus` counts input and output frames, keeps the last params and the last error, runs the
state machine (evaluated every second by the session) and builds the events: each is one JSON
object `{"event": {..., "timestamp": <ms>}, "queue_event_type": <type>}`. Output frames are the
pipeline's only: loading-overlay frames shown while the pipeline reloads are not counted (the
state is LOADING then), and the rules about missing output start again from the reload's end.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from typing import Any

FPS_WINDOW_S = 10.0
NO_INPUT_STOP_S = 60.0
LOAD_TIMEOUT_S = 180.0  # a (re)load running longer is an ERROR


def now_ms() -> int:
    return int(time.time() * 1000)


def event(queue_event_type: str, type_: str, **fields: Any) -> dict[str, Any]:
    return {
        "event": {"type": type_, **fields, "timestamp": now_ms()},
        "queue_event_type": queue_event_type,
    }


def params_hash(params: dict[str, Any]) -> str:
    return hashlib.md5(json.dumps(params, sort_keys=True).encode()).hexdigest()


class _Rate:
    """Events in the last FPS_WINDOW_S seconds (monotonic clock)."""

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        self.last: float | None = None  # monotonic
        self.last_ms: int | None = None  # wall clock

    def add(self) -> None:
        self.last = time.monotonic()
        self.last_ms = now_ms()
        self.times.append(self.last)

    def fps(self, now: float, since: float) -> float:
        while self.times and self.times[0] < now - FPS_WINDOW_S:
            self.times.popleft()
        span = min(FPS_WINDOW_S, max(now - since, 1.0))
        return len(self.times) / span


class LiveStatus:
    def __init__(self, pipeline: str, params: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.start_ms = now_ms()
        self._start = time.monotonic()
        self.state = "ONLINE"
        self.state_ms = self.start_ms
        self.input = _Rate()
        self.output = _Rate()
        self.params = params
        self.params_ms: int | None = None
        self.error: str | None = None
        self.error_ms: int | None = None
        self._error_at: float | None = None
        self.last_status_ms = self.start_ms
        self._loaded = self._start  # monotonic: the end of the last (re)load
        self._loading_since: float | None = None  # monotonic, while a reload runs

    def on_params(self, params: dict[str, Any]) -> None:
        self.params, self.params_ms = params, now_ms()

    def on_reloading(self) -> None:
        self._loading_since = time.monotonic()

    def on_reloaded(self) -> None:
        """The reload ended, done or failed: output is awaited afresh from now."""
        self._loading_since = None
        self._loaded = time.monotonic()

    def on_error(self, message: str) -> None:
        self.error, self.error_ms, self._error_at = message, now_ms(), time.monotonic()

    def since_input_s(self, now: float) -> float:
        return now - (self.input.last if self.input.last is not None else self._start)

    def evaluate(self) -> str:
        """The state machine, first matching rule wins (ai-api.md §9.7: rules 2-3 for a
        reload, then 5-11)."""
        now = time.monotonic()
        since_in = self.since_input_s(now)
        since_out = now - (self.output.last if self.output.last is not None else self._start)
        in_fps = self.input.fps(now, self._start)
        out_fps = self.output.fps(now, self._start)
        loading, loaded = self._loading_since, self._loaded
        if self.state == "ERROR":
            state = "ERROR"
        elif loading is not None:
            state = "ERROR" if now - loading > LOAD_TIMEOUT_S else "LOADING"
        elif since_in > NO_INPUT_STOP_S:
            state = "DEGRADED_INPUT" if since_in < 90 else "ERROR"
        elif self.output.last is None or self.output.last < loaded:
            loaded_s = now - loaded
            if loaded_s <= 2:
                state = "ONLINE"
            elif self.input.last is None or self.input.last < loaded:
                state = "DEGRADED_INPUT"
            else:
                state = "DEGRADED_INFERENCE" if loaded_s <= 10 else "ERROR"
        elif since_out > since_in + 1 and since_out > 5:
            state = "ERROR"
        elif self._error_at is not None and now - self._error_at < 15:
            state = "DEGRADED_INFERENCE"
        elif since_in > 2 or in_fps < 15:
            state = "DEGRADED_INPUT"
        elif since_out > 2 or out_fps < min(10, 0.8 * in_fps):
            state = "DEGRADED_INFERENCE"
        else:
            state = "ONLINE"
        if state != self.state:
            self.state, self.state_ms = state, now_ms()
        return state

    def status_event(self) -> dict[str, Any]:
        now = time.monotonic()
        body = {
            "pipeline": self.pipeline,
            "start_time": self.start_ms,
            "state": self.state,
            "last_state_update_time": self.state_ms,
            "input_status": {
                "last_input_time": self.input.last_ms,
                "fps": round(self.input.fps(now, self._start), 2),
            },
            "inference_status": {
                "last_output_time": self.output.last_ms,
                "fps": round(self.output.fps(now, self._start), 2),
                "last_params_update_time": self.params_ms,
                "last_params": self.params,
                "last_params_hash": params_hash(self.params),
                "last_error_time": self.error_ms,
                "last_error": self.error,
                "last_restart_time": None,
                "last_restart_logs": None,
                "restart_count": 0,
            },
            "last_status_timestamp": self.last_status_ms,
        }
        out = event("ai_stream_events", "status", **body)
        self.last_status_ms = out["event"]["timestamp"]
        return out
