"""A live stream's model and params (ai-api.md §9.5), the part of `LiveSession` that decides
what each frame runs through: a mixin of the session, as `PaidCalls` is of the engine.

- The control channel: one JSON object per segment; `{"keep":"alive"}` ignored; the SDK's
  `{"type": "update", "params": {...}}` unwrapped; anything else not an object is an error event.
- Params are validated on the loop (a refused one is an error event and nothing changes) and
  the latest valid ones wait for the worker, which applies them before its next frame.
- A message naming another `model_id` switches the stream's model (`lpengine.live.reload`).
- The first load, in the worker before its first frame (`reload.load_first`): the start params,
  else default params, else the stream stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from lpengine.live.channels import StreamChannels
from lpengine.live.pipelines import Factory, LivePipeline, base_size
from lpengine.live.reload import LoadFailed, ModelSwitch, load_first, prepare
from lpengine.live.status import LiveStatus

log = logging.getLogger(__name__)

KEEPALIVE = {"keep": "alive"}


class StreamControl:
    manifest_id: str
    model_id: str
    pipeline: LivePipeline
    channels: StreamChannels
    status: LiveStatus
    stop_reason: str | None
    reloads: int
    _factory: Factory | None
    _switch: ModelSwitch | None
    _loop: asyncio.AbstractEventLoop
    _tasks: list[asyncio.Task[None]]
    _stop: threading.Event
    _params_lock: threading.Lock
    _pending_params: dict[str, Any] | None
    _wanted: dict[str, Any]
    _overlay_mode: bool | None
    _reload_task: asyncio.Task[None] | None
    _after_reload: dict[str, Any] | None

    # NOTE: the session's: an error event (any thread), one event (loop), an error that
    # stops the stream (loop)
    error: Callable[[str], None]
    _emit: Callable[[dict[str, Any]], None]
    _fail: Callable[[str], None]

    async def _read_control(self) -> None:
        sub = self.channels.control.subscribe(0)
        while (seg := await sub.next()) is not None:
            raw = await seg.read_all()
            if not raw.strip():
                continue
            try:
                message = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                self.error(f"control message is not JSON: {err}")
                continue
            if message == KEEPALIVE:
                continue
            if not isinstance(message, dict):
                self.error(f"control message: expected a JSON object, got {type(message).__name__}")
                continue
            if isinstance(message.get("params"), dict) and message.get("type") in (None, "update"):
                message = message["params"]  # the SDK's {"type": "update", "params": {...}}
            if self._reload_task is not None:
                self._after_reload = message  # NOTE: latest wins, once the reload is over
                continue
            self._control(message)

    def _control(self, message: dict[str, Any]) -> None:
        """One params message: applied in place, or a reload when it names another model."""
        model_id = message.get("model_id", self.model_id)
        message = {k: v for k, v in message.items() if k != "model_id"}
        if model_id != self.model_id:
            if not isinstance(model_id, str) or not model_id:
                self.error(f"params refused: model_id: expected a model name, got {model_id!r}")
            elif self._switch is None:
                self.error(f"params refused: model_id: this stream cannot switch to {model_id}")
            else:
                self._reload_task = self._loop.create_task(self._reload(model_id, message))
                self._tasks.append(self._reload_task)
            return
        try:
            params = self.pipeline.validate(message)
        except ValueError as err:
            self.error(f"params refused: {err}")
            return
        self._wanted = params
        with self._params_lock:
            self._pending_params = params  # NOTE: latest wins; older pending ones are dropped

    async def _reload(self, model_id: str, message: dict[str, Any]) -> None:
        """Switches the stream to `model_id` with its params updated by `message`
        (`lpengine.live.reload`); anything failing leaves its model and params as they were."""
        assert self._switch is not None
        size = (self.pipeline.width, self.pipeline.height)
        params = {**self._wanted, **message}
        new: LivePipeline | None = None
        try:
            try:
                base_size(params, size)  # the output size stays; show_reloading_frame checked
                wait = self._switch.begin_switch(self.manifest_id, model_id)
            except ValueError as err:
                self.error(f"params refused: {err}")
                return
            log.info(
                "live stream %s: reloading %s -> %s", self.manifest_id, self.model_id, model_id
            )
            t0 = time.monotonic()
            with self._params_lock:
                self._overlay_mode = bool(params.get("show_reloading_frame", True))
            self.status.on_reloading()
            self.status.evaluate()
            self._emit(self.status.status_event())  # NOTE: LOADING at once, not within 1 s
            try:
                new = await asyncio.to_thread(prepare, wait, params, size, self._stop)
            except Exception as err:  # NOTE: any failure: the previous model goes on
                self.error(f"reload to {model_id} failed, {self.model_id} goes on: {err}")
            finally:
                self._switch.end_switch(self.manifest_id, model_id, new is not None)
                with self._params_lock:
                    self._overlay_mode = None
                    if new is not None:  # NOTE: params pending for the old pipeline go with it
                        self.pipeline, self._pending_params = new, None
                self.status.on_reloaded()
            if new is None:
                return
            self.reloads += 1
            self.model_id, self._wanted = model_id, dict(new.params)
            self.status.pipeline = new.name
            self.status.on_params(dict(new.params))
            self.status.evaluate()
            self._emit(self.status.status_event())
            ready_s = time.monotonic() - t0
            log.info("live stream %s: %s ready in %.2f s", self.manifest_id, model_id, ready_s)
        finally:
            self._reload_task = None
            held, self._after_reload = self._after_reload, None
            if held is not None and self.stop_reason is None:
                self._control(held)

    def _load(self) -> bool:
        """The stream's first load (worker thread, before its first frame; `load_first`), the
        state LOADING meanwhile; False if the stream stops (no model loaded)."""
        first, fallback = self.pipeline, None
        try:
            ready = load_first(self.model_id, first, self._factory, self.error)
            if ready is not first:
                with self._params_lock:
                    if self.pipeline is first:  # NOTE: unless a model switch replaced it
                        # NOTE: updates that came meanwhile were checked against failed params
                        self.pipeline, self._pending_params, fallback = ready, None, ready
            return True
        except LoadFailed as err:
            self._fail_soon(f"live pipeline {self.model_id} {err}")
            return False
        finally:
            if not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._loaded, fallback)

    def _loaded(self, fallback: LivePipeline | None) -> None:
        """The first load ended (event loop); `fallback`: the default-params pipeline now
        serving the stream."""
        self.status.on_reloaded()
        if fallback is not None:
            self._wanted = dict(fallback.params)
            self.status.on_params(dict(fallback.params))
        self.status.evaluate()
        if self.stop_reason is None:
            self._emit(self.status.status_event())

    def _fail_soon(self, message: str) -> None:
        """`_fail` from a thread."""
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._fail, message)

    def _apply_params(self) -> tuple[LivePipeline, bool | None]:
        """The pipeline for the next frame, with the latest pending params applied (worker
        thread), and show_reloading_frame while a reload runs (else None)."""
        with self._params_lock:
            params, self._pending_params = self._pending_params, None
            pipeline, overlay_mode = self.pipeline, self._overlay_mode
        if params is not None:
            pipeline.update(params)
            self.status.on_params(params)
            self._loop.call_soon_threadsafe(self._emit, self.status.status_event())
        return pipeline, overlay_mode
