"""One live stream, in-process: input channel → decode → pipeline → encode → output channel.

Threads and queues (nothing blocking runs on the event loop):

    input task (loop)   reads the input channel's segments into a ByteFeed
    decode thread       PyAV demux + decode → yuv420p frames → input queue (latest frame wins)
    worker thread       native convert → pipeline → convert back → x264 → MPEG-TS bytes
    loop callbacks      the bytes into the output channel's current segment; a new segment
                        before every IDR (every 2 s)
    control task (loop) params from the control channel: validated, then the latest applied
    reload task (loop)  a control message naming another `model_id`: see below
    ticker task (loop)  state machine every 1 s, status event every 10 s, live payments

Params are applied in place by the pipeline; a control message naming another `model_id`
switches the stream's model without stopping it (`lpengine.live.reload`): meanwhile the worker
answers each frame with the loading overlay, or passes it through unchanged. The control side
(params, model switches, the first load) is `lpengine.live.control.StreamControl`, a mixin.

The stream stops when the input channel closes (the gateway DELETEs it, or it idles out), the
input cannot be decoded any more, the state machine says ERROR, the balance runs out, or the
node shuts down; stopping closes all four channels and joins both threads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lpengine.live.channels import OutputSink, StreamChannels
from lpengine.live.control import StreamControl
from lpengine.live.decode import ByteFeed, DecodeFailed, run_decoder
from lpengine.live.encode import SOFTWARE, LiveEncoder, open_encoder
from lpengine.live.frames import InputConverter, OutputConverter
from lpengine.live.overlay import LoadingOverlay
from lpengine.live.payments import LivePayments
from lpengine.live.pipelines import Factory, LivePipeline
from lpengine.live.reload import ModelSwitch
from lpengine.live.status import NO_INPUT_STOP_S, LiveStatus, event
from lpengine.live.timeline import Timeline
from lpengine.live.trickle import TrickleServer

log = logging.getLogger(__name__)

INPUT_QUEUE_FRAMES = 8  # decoded frames waiting for the pipeline; full: the oldest is dropped
STATUS_INTERVAL_S = 10.0
MAX_PIPELINE_ERRORS = 3
DRAIN_S = 5.0  # at most this long to finish the frames already received when the input ends


class LiveSession(StreamControl):
    def __init__(
        self,
        manifest_id: str,
        pipeline: LivePipeline,
        channels: StreamChannels,
        trickle: TrickleServer,
        payments: LivePayments | None = None,
        on_end: Callable[[LiveSession], None] = lambda s: None,
        model_id: str | None = None,
        switch: ModelSwitch | None = None,
        factory: Factory | None = None,
        encoder: str = SOFTWARE,
    ) -> None:
        """`factory`: the stream's model, for a retry with default params when the first load
        with the start params fails (none: no retry); `encoder`: the node's H.264 encoder
        (`live.encode.open_encoder`)."""
        self.manifest_id = manifest_id
        self.pipeline = pipeline
        self._factory = factory
        self._encoder = encoder
        self.model_id = pipeline.name if model_id is None else model_id
        self._switch = switch
        self.channels = channels
        self.trickle = trickle
        self.payments = payments
        self._on_end = on_end
        self.status = LiveStatus(pipeline.name, dict(pipeline.params))
        self._feed = ByteFeed()
        self._frames: queue.Queue[tuple[NDArray[np.uint8], float] | None] = queue.Queue(
            INPUT_QUEUE_FRAMES
        )
        self._audio: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._audio_stream: Any | None = None
        self._pending_params: dict[str, Any] | None = None
        self._wanted = dict(pipeline.params)  # the latest params accepted (pending or applied)
        # NOTE: the worker reads self.pipeline and this with _pending_params, under the lock.
        self._overlay_mode: bool | None = None  # while reloading: show_reloading_frame
        self._reload_task: asyncio.Task[None] | None = None
        self._after_reload: dict[str, Any] | None = None  # the latest message during a reload
        self.reloads = 0
        self.reload_frames = 0  # answered with the overlay, or passed through, while reloading
        self._params_lock = threading.Lock()
        self._stop = threading.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._threads: list[threading.Thread] = []
        self.stopped = asyncio.Event()
        self.stop_reason: str | None = None
        self.dropped_frames = 0
        self.input_segments = 0
        self.no_input_stop_s = NO_INPUT_STOP_S
        self._timeline = Timeline()
        self._input_size: tuple[int, int] | None = None
        self._loop = asyncio.get_running_loop()
        self._sink = OutputSink(self._loop, channels.output)

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Starts the threads and tasks; returns at once (the gateway's 5 s budget)."""
        self._emit(event("stream_trace", "runner_receive_stream_request"))
        self._sink.on_first_segment = lambda: self._emit(
            event("stream_trace", "runner_send_first_processed_segment")
        )
        self.channels.input.on_close(lambda: self._begin_stop("the input channel closed", True))
        for target, name in ((self._decode, "decode"), (self._work, "work")):
            thread = threading.Thread(target=target, name=f"live-{name}-{self.manifest_id}")
            thread.start()
            self._threads.append(thread)
        for coro in (self._read_input(), self._read_control(), self._tick()):
            self._tasks.append(self._loop.create_task(coro))
        self.status.on_reloading()  # NOTE: LOADING until the worker has loaded the pipeline
        self.status.evaluate()
        self._emit(self.status.status_event())

    def request_stop(self, reason: str) -> None:
        """Stops the stream (any thread); the first reason is kept."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._begin_stop, reason)

    def _begin_stop(self, reason: str, drain: bool = False) -> None:
        if self.stop_reason is not None:
            return
        self.stop_reason = reason
        self._loop.create_task(self._shutdown(drain))

    async def _shutdown(self, drain: bool) -> None:
        """Ends the threads, closes the channels. With `drain` (the input ended) what was
        already received is decoded, processed and published first, for at most DRAIN_S."""
        log.info("live stream %s stopping: %s", self.manifest_id, self.stop_reason)
        self._feed.end()
        decode, work = self._threads
        if drain:
            await asyncio.to_thread(decode.join, DRAIN_S)
            self._put_frame(None)  # NOTE: after the last frame: the worker finishes the queue
            await asyncio.to_thread(work.join, DRAIN_S)
        self._stop.set()
        self._put_frame(None)
        for thread in self._threads:
            await asyncio.to_thread(thread.join)
        self._sink._finish()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in self._tasks if t is not current), return_exceptions=True)
        for ch in self.channels.all():
            self.trickle.close_channel(ch.name)
        self.stopped.set()
        self._on_end(self)

    def abort(self) -> None:
        """Ends both threads now, without the loop (the node is shutting down)."""
        self._stop.set()
        self._feed.end()
        self._put_frame(None)

    async def stop(self, reason: str) -> None:
        self._begin_stop(reason)
        await self.stopped.wait()

    # --- events ------------------------------------------------------------------------------

    def _emit(self, message: dict[str, Any]) -> None:
        """One event as one segment of the events channel (on the loop)."""
        ch = self.channels.events
        if not ch.closed:
            writer = ch.begin_segment()
            writer.write(json.dumps(message).encode())
            writer.close()

    def error(self, message: str) -> None:
        """An error event (any thread); the stream goes on."""
        log.warning("live stream %s: %s", self.manifest_id, message)
        self.status.on_error(message)
        err = event("ai_stream_events", "error", message=message, time=self.status.error_ms)
        self._loop.call_soon_threadsafe(self._emit, err)

    # --- loop tasks ---------------------------------------------------------------------------

    async def _read_input(self) -> None:
        sub = self.channels.input.subscribe(-1, skip_holes=True)
        last: int | None = None
        while (seg := await sub.next()) is not None:
            if last is not None and seg.idx != last + 1:
                self.error(
                    f"input segments {last + 1}-{seg.idx - 1} missing (skipped by the "
                    f"publisher, or later than segment {seg.idx}): going on without them"
                )
            last = seg.idx
            self.input_segments += 1
            if self.input_segments == 1:
                self._emit(event("stream_trace", "runner_receive_first_ingest_segment"))
            async for chunk in seg.chunks():
                self._feed.feed(chunk)
            if self.payments is not None and self.payments.due():
                left = await asyncio.to_thread(self.payments.charge)
                if left < 0:
                    self._fail("insufficient balance: the stream's payments ran out")
                    return
        self._begin_stop("the input channel closed", drain=True)

    async def _tick(self) -> None:
        last_status = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            state = self.status.evaluate()
            if state == "ERROR":
                self._fail("the stream stopped producing frames")
                return
            if self.status.since_input_s(time.monotonic()) > self.no_input_stop_s:
                self._fail(f"no input for {self.no_input_stop_s:g} s")
                return
            if time.monotonic() - last_status >= STATUS_INTERVAL_S:
                last_status = time.monotonic()
                self._emit(self.status.status_event())

    def _fail(self, message: str) -> None:
        self.status.on_error(message)
        self._emit(event("ai_stream_events", "error", message=message, time=self.status.error_ms))
        self._begin_stop(message)

    # --- threads ------------------------------------------------------------------------------

    def _put_frame(self, item: tuple[NDArray[np.uint8], float] | None) -> None:
        """Latest frame wins: a full queue drops its oldest frame."""
        while True:
            try:
                self._frames.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._frames.get_nowait()
                    self.dropped_frames += 1
                except queue.Empty:
                    pass

    def _on_video(self, frame: NDArray[np.uint8], time_s: float) -> None:
        """A decoded input frame (decode thread): onto the output timeline, into the queue."""
        self.status.input.add()
        size = (frame.shape[1], frame.shape[0] * 2 // 3)
        if size != self._input_size:
            if self._input_size is not None:  # cover-resized to the pipeline's size: no change out
                log.info("live stream %s: input now %dx%d", self.manifest_id, *size)
            self._input_size = size
        out_s, jump = self._timeline.map(time_s)
        if jump is not None:
            self.error(
                f"input timestamps jumped {jump:+.3f} s (a restarted publisher?): "
                "the output's timeline goes on"
            )
        self._put_frame((frame, out_s))

    def _on_open(self, audio: Any | None) -> None:
        if self._audio_stream is None:
            self._audio_stream = audio

    def _decode(self) -> None:
        try:
            run_decoder(
                self._feed,
                self._on_video,
                lambda packet, stream: self._audio.put(packet),
                self.error,
                self._stop,
                on_open=self._on_open,
            )
        except DecodeFailed as err:
            self.error(str(err))
            self.request_stop(str(err))
        except Exception as err:  # never leave the stream half alive
            log.exception("live stream %s: decoder failed", self.manifest_id)
            self.request_stop(f"decoder failed: {err}")

    def _work(self) -> None:
        encoder: LiveEncoder | None = None
        overlay: LoadingOverlay | None = None
        convert_in, convert = InputConverter(), OutputConverter()
        failures = 0
        try:
            if not self._load():
                return
            while not self._stop.is_set():
                try:
                    item = self._frames.get(timeout=0.25)
                except queue.Empty:
                    continue
                if item is None:
                    break
                frame, time_s = item
                p, overlay_mode = self._apply_params()
                try:
                    # NOTE: the overlay draws on host frames, whatever the pipeline's device
                    device = p.device if overlay_mode is None else "cpu"
                    frames = convert_in(frame, p.width, p.height, device)
                    if overlay_mode is None:
                        frames = p.process(frames)
                    elif overlay_mode:
                        if overlay is None:
                            overlay = LoadingOverlay(p.width, p.height)
                        frames = overlay(frames, time.monotonic())
                    out = convert(frames)
                    if encoder is not None:
                        encoder.check_size(out)  # NOTE: a pipeline failure, not the output's
                except Exception as err:
                    failures += 1
                    self.error(f"live-video-to-video pipeline error: {err}")
                    if failures >= MAX_PIPELINE_ERRORS:
                        self.request_stop(f"the pipeline failed {failures} times")
                        return
                    continue
                if encoder is None:
                    h, w = out.shape[0] * 2 // 3, out.shape[1]
                    encoder = open_encoder(
                        self._sink, w, h, audio=self._audio_stream, preferred=self._encoder
                    )
                while not self._audio.empty():
                    encoder.mux_audio(self._audio.get())
                if not encoder.encode(out, time_s):
                    continue
                if overlay_mode is None:
                    self.status.output.add()  # NOTE: the pipeline's frames only
                else:
                    self.reload_frames += 1
        except Exception as err:
            log.exception("live stream %s: output failed", self.manifest_id)
            self.request_stop(f"output failed: {err}")
        finally:
            if encoder is not None:
                try:
                    encoder.close()
                except Exception:
                    log.exception("live stream %s: encoder close failed", self.manifest_id)
            self._sink.finish()
