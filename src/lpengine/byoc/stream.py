"""BYOC streams: a registered capability run as a live stream over trickle (protocol.md §4.8).

`/ai/stream/start` takes a JobRequest as jobs do (creds, a slot reserved, price, payment, a
minute of balance, else 402), then opens the stream's trickle channels: `<id>-control` and
`<id>-events` always, `<id>` (input, MPEG-TS), `<id>-out` and `<id>-data` (JSON lines) when the
JobRequest's `parameters` enable them (`enable_video_ingress`, `enable_video_egress`,
`enable_data_output`, as go). The worker is told with `POST <url>/stream/start`: the gateway's
JSON body plus `gateway_request_id` and the channels' URLs as the worker sees them
(`subscribe_url` is the input, `publish_url` the output). Then every `debit_interval_s` (23 s)
23 s of the capability's price are debited from the sender's balance for the capability; one
round below zero is tolerated, the next stops the stream. A stream stops by `/ai/stream/stop`, a
balance that ran out, its input channel closing (the gateway DELETEs it) or shutdown; stopping
writes a `stream_stopped` event, tells the worker (`/stream/stop`), closes every channel
(`-events` a second later, so its last event reaches readers) and frees the slot.
`/ai/stream/update` puts the params on `<id>-control` and forwards them to
`<url>/stream/params`; `/ai/stream/payment` tops the balance up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from lpengine.byoc.job import INSUFFICIENT_BALANCE, JobRefused
from lpengine.byoc.running import Job, JobResult
from lpengine.byoc.service import Byoc
from lpengine.byoc.sse import float_string
from lpengine.live.trickle import Channel, TrickleServer
from lpengine.payment import Payment

log = logging.getLogger(__name__)

DEBIT_UNITS = 23  # seconds of compute debited per round (go)
DEBIT_INTERVAL_S = 23.0
MAX_BODY_BYTES = 1 << 20
TRICKLE_PATH = "/ai/trickle/"
STOP_TIMEOUT_S = 10.0  # telling the worker to stop, when the gateway did not ask
EVENTS_GRACE_S = 1.0  # `-events` outlives the stop event, so readers between GETs still get it
_STREAM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

# role -> (channel name suffix, mime type, the parameter that enables it, the worker's field)
CHANNELS: dict[str, tuple[str, str, str | None, str]] = {
    "control": ("-control", "application/json", None, "control_url"),
    "events": ("-events", "application/json", None, "events_url"),
    "input": ("", "video/MP2T", "enable_video_ingress", "subscribe_url"),
    "output": ("-out", "video/MP2T", "enable_video_egress", "publish_url"),
    "data": ("-data", "application/jsonl", "enable_data_output", "data_url"),
}
GATEWAY_FIELDS = {  # the start answer's JSON, named as /live-video-to-video names them
    "control": "control_url",
    "events": "events_url",
    "input": "publish_url",
    "output": "subscribe_url",
    "data": "data_url",
}
HEADERS = {  # what the gateway reads in the start answer (go's names)
    "control": "X-Control-Url",
    "events": "X-Events-Url",
    "input": "X-Publish-Url",
    "output": "X-Subscribe-Url",
    "data": "X-Data-Url",
}


def _json_object(data: bytes | str, what: str) -> dict[str, Any]:
    """`data` as a JSON object; raises JobRefused(400) naming `what` and the problem."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise JobRefused(400, f"Invalid JSON {what}: {err}") from None
    if not isinstance(doc, dict):
        raise JobRefused(400, f"Invalid JSON {what}: expected an object, got {type(doc).__name__}")
    return doc


def enabled_roles(parameters: str) -> list[str]:
    """The channels a JobRequest's `parameters` asks for; raises JobRefused(400)."""
    doc = _json_object(parameters, "parameters") if parameters.strip() else {}
    roles = []
    for role, (_, _, flag, _) in CHANNELS.items():
        value = doc.get(flag, False) if flag else True
        if not isinstance(value, bool):
            raise JobRefused(400, f"Invalid JSON parameters: {flag}: expected a boolean")
        if value:
            roles.append(role)
    return roles


@dataclass(eq=False)
class ByocStream:
    id: str
    job: Job  # its slot, sender and pinned price
    channels: dict[str, Channel]  # role -> channel
    urls: dict[str, str]  # role -> URL
    debited_units: int = 0
    negative: bool = False  # the last round left the balance below zero
    ended: bool = False
    monitor: asyncio.Task[None] | None = None
    stop_task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def capability(self) -> str:
        return self.job.name


class ByocStreams:
    """The BYOC streams of a node; every method runs on the trickle server's event loop."""

    def __init__(
        self, byoc: Byoc, trickle: TrickleServer, debit_interval_s: float = DEBIT_INTERVAL_S
    ) -> None:
        self.byoc = byoc
        self.trickle = trickle
        self.debit_interval_s = debit_interval_s
        self.base_url = byoc.service_uri.rstrip("/") + TRICKLE_PATH
        self._streams: dict[str, ByocStream] = {}
        self._closing = False

    def __len__(self) -> int:
        return len(self._streams)

    def get(self, stream_id: str) -> ByocStream | None:
        return self._streams.get(stream_id)

    # --- the four calls -----------------------------------------------------------------------

    async def start(self, header: str | None, payment: Payment | None, body: bytes) -> JobResult:
        """POST /ai/stream/start; raises JobRefused with the status and text to answer."""
        try:
            job = await asyncio.to_thread(self.byoc.accept, header, payment)
        except JobRefused as refused:
            if refused.text == INSUFFICIENT_BALANCE:  # go answers 402 for a stream
                raise JobRefused(402, refused.text) from None
            raise
        stream: ByocStream | None = None
        try:
            stream_id = self._new_id(job.request.id)
            roles = enabled_roles(job.request.parameters)
            doc = _json_object(body, "body")
            if job.entry.handler is not None:
                raise JobRefused(
                    400, f"capability {job.name!r} runs in-process: streams need a worker URL"
                )
            stream = self._open(stream_id, job, roles)
            worker_body = {"gateway_request_id": stream_id}
            worker_body |= {CHANNELS[role][3]: url for role, url in stream.urls.items()}
            result = await self._start_worker(stream, {**worker_body, **doc})
        except BaseException:
            if stream is not None:
                self._teardown(stream, "the start failed", event=False)
            else:
                self.byoc.table.release(job.entry)
            raise
        if result.status >= 400:
            self._teardown(stream, f"the worker answered {result.status}", event=False)
            return result
        self._streams[stream.id] = stream
        watched = stream.channels.get("input") or stream.channels["control"]
        watched.on_close(lambda: self._closed_by_peer(stream, watched.name))
        if self.byoc.billing is not None and job.price.price_per_unit > 0:
            stream.monitor = asyncio.get_running_loop().create_task(self._monitor(stream))
        log.info(
            "BYOC stream %s (%s) started: channels %s", stream.id, job.name,
            ", ".join(ch.name for ch in stream.channels.values()),
        )  # fmt: skip
        for role, url in stream.urls.items():
            result.headers[HEADERS[role]] = url
        result.headers["Content-Type"] = "application/json"
        doc_out: dict[str, Any] = {"stream_id": stream.id}  # named as the gateway sees them
        doc_out |= {GATEWAY_FIELDS[role]: url for role, url in stream.urls.items()}
        result.body = json.dumps(doc_out).encode()
        return result

    async def stop(self, header: str | None, payment: Payment | None, body: bytes) -> JobResult:
        """POST /ai/stream/stop: the worker is told (its answer relayed), the stream ends."""
        job = await asyncio.to_thread(
            self.byoc.accept, header, payment, reserve=False, min_balance=False
        )
        stream = self._find(job)
        try:
            status, data, content_type = await self._call_worker(
                stream, "/stream/stop", body, job.request.timeout_s
            )
        except (httpx.TransportError, TimeoutError) as err:
            log.warning("BYOC stream %s: /stream/stop failed: %r", stream.id, err)
            status, data, content_type = 200, b"", ""
        self._teardown(stream, "stopped by the gateway")
        return self._answer(stream, status, data, content_type)

    async def update(self, header: str | None, payment: Payment | None, body: bytes) -> JobResult:
        """POST /ai/stream/update: the params go on `-control` and to `<url>/stream/params`."""
        job = await asyncio.to_thread(
            self.byoc.accept, header, payment, reserve=False, min_balance=False
        )
        stream = self._find(job)
        _json_object(body, "body")
        control = stream.channels["control"]
        if not control.closed:  # NOTE: the idle sweep may have closed it; the worker still hears
            writer = control.begin_segment()
            writer.write(body)
            writer.close()
        try:
            status, data, content_type = await self._call_worker(
                stream, "/stream/params", body, job.request.timeout_s
            )
        except (httpx.TransportError, TimeoutError) as err:
            log.warning("BYOC stream %s: /stream/params failed: %r", stream.id, err)
            raise JobRefused(500, f"Error sending request to worker err={err!r}") from None
        return self._answer(stream, status, data, content_type)

    async def payment(self, header: str | None, payment: Payment | None) -> JobResult:
        """POST /ai/stream/payment: the payment credited; the balance in `Livepeer-Balance`."""
        job = await asyncio.to_thread(
            self.byoc.accept, header, payment, reserve=False, min_balance=False,
            strict_payment=True,
        )  # fmt: skip
        balance = float_string(self.byoc.balance_of(job), 0)
        return JobResult(200, {"Livepeer-Balance": balance})

    # --- life of a stream ---------------------------------------------------------------------

    def _new_id(self, stream_id: str) -> str:
        if not _STREAM_ID.match(stream_id):
            raise JobRefused(
                400,
                "id: expected the stream id, 1-128 letters, digits, '.', '_' or '-' starting "
                f"with a letter or digit, got {stream_id!r}",
            )
        names = [stream_id + suffix for suffix, _, _, _ in CHANNELS.values()]
        if stream_id in self._streams or any(self.trickle.channel(n) for n in names):
            raise JobRefused(400, f"stream already exists: {stream_id}")
        return stream_id

    def _open(self, stream_id: str, job: Job, roles: list[str]) -> ByocStream:
        channels, urls = {}, {}
        for role in roles:
            suffix, mime_type, _, _ = CHANNELS[role]
            channels[role] = self.trickle.create_channel(stream_id + suffix, mime_type)
            urls[role] = self.base_url + stream_id + suffix
        return ByocStream(stream_id, job, channels, urls)

    def _find(self, job: Job) -> ByocStream:
        stream_id = job.details.get("stream_id") or job.request.id
        stream = self._streams.get(stream_id) if isinstance(stream_id, str) else None
        if stream is None or stream.capability != job.name:
            raise JobRefused(404, f"Stream not found: {stream_id!r} of capability {job.name!r}")
        if self.byoc.billing is not None and stream.job.sender != job.sender:
            raise JobRefused(403, f"stream {stream.id} was started by another sender")
        return stream

    async def _start_worker(self, stream: ByocStream, doc: dict[str, Any]) -> JobResult:
        job = stream.job
        started_s = time.monotonic()
        try:
            status, data, content_type = await self._call_worker(
                stream, "/stream/start", json.dumps(doc).encode(), job.request.timeout_s
            )
        except TimeoutError:
            raise JobRefused(
                500, "Error sending request to worker err=context deadline exceeded"
            ) from None
        except httpx.TransportError as err:
            self.byoc.table.set_health(job.entry, f"{type(err).__name__}: {err}")
            self.byoc.health.check_soon()
            raise JobRefused(500, f"Error sending request to worker err={err!r}") from None
        self.byoc.charge(job, math.ceil(time.monotonic() - started_s))
        if status >= 400:
            log.warning("BYOC stream %s: the worker answered %d to start", stream.id, status)
            return self._answer(stream, status, data, content_type)
        return self._answer(stream, status, b"", "")

    async def _call_worker(
        self, stream: ByocStream, path: str, body: bytes, timeout_s: float
    ) -> tuple[int, bytes, str]:
        """POST <url><path>; raises httpx.TransportError or TimeoutError."""
        registration = stream.job.entry.registration
        headers = {"Content-Type": "application/json", "X-Stream-Id": stream.id}
        if registration.token:
            headers["Authorization"] = f"Bearer {registration.token}"
        async with asyncio.timeout(timeout_s):
            r = await self.byoc.http().post(registration.url + path, content=body, headers=headers)
        return r.status_code, r.content, r.headers.get("content-type", "")

    def _answer(self, stream: ByocStream, status: int, data: bytes, content_type: str) -> JobResult:
        headers = {"Livepeer-Balance": float_string(self.byoc.balance_of(stream.job), 0)}
        if content_type:
            headers["Content-Type"] = content_type
        return JobResult(status, headers, data)

    async def _monitor(self, stream: ByocStream) -> None:
        """Every interval: 23 s of price debited; a second round below zero stops the stream."""
        while not stream.ended:
            await asyncio.sleep(self.debit_interval_s)
            if stream.ended:
                return
            balance = self.byoc.charge(stream.job, DEBIT_UNITS)
            if balance is None:
                return
            stream.debited_units += DEBIT_UNITS
            if balance >= 0:
                stream.negative = False
                continue
            if not stream.negative:
                stream.negative = True
                log.warning(
                    "BYOC stream %s: insufficient balance %s, stopping next round unless paid",
                    stream.id, float_string(balance, 0),
                )  # fmt: skip
                self._event(stream, "insufficient_balance", balance_wei=str(balance))
                continue
            log.info("BYOC stream %s: insufficient balance, stopping it", stream.id)
            await self._tell_worker_stop(stream)
            self._teardown(stream, "insufficient balance")

    async def _tell_worker_stop(self, stream: ByocStream) -> None:
        try:
            await self._call_worker(stream, "/stream/stop", b"{}", STOP_TIMEOUT_S)
        except (httpx.TransportError, TimeoutError) as err:
            log.warning("BYOC stream %s: /stream/stop failed: %r", stream.id, err)

    def _closed_by_peer(self, stream: ByocStream, name: str) -> None:
        """The watched channel closed (DELETE, idle sweep, shutdown): the stream ends."""
        if stream.ended:
            return
        self._teardown(stream, f"channel {name} closed")
        loop = _running_loop()
        if not self._closing and loop is not None:
            stream.stop_task = loop.create_task(self._tell_worker_stop(stream))

    def _event(self, stream: ByocStream, kind: str, **fields: Any) -> None:
        channel = stream.channels["events"]
        if channel.closed:
            return
        doc = {"type": kind, "stream_id": stream.id, "capability": stream.capability, **fields}
        writer = channel.begin_segment()
        writer.write(json.dumps(doc).encode())
        writer.close()

    def _teardown(self, stream: ByocStream, reason: str, event: bool = True) -> None:
        """Ends a stream once: the event, every channel closed, the slot freed. Synchronous, so
        a channel's close callback can run it."""
        if stream.ended:
            return
        stream.ended = True
        self._streams.pop(stream.id, None)
        if stream.monitor is not None and stream.monitor is not _current_task():
            stream.monitor.cancel()
        if event:
            balance = self.byoc.balance_of(stream.job)
            self._event(
                stream, "stream_stopped", reason=reason, balance_wei=str(balance),
                debited_units=stream.debited_units,
            )  # fmt: skip
        loop = _running_loop()
        for role, channel in stream.channels.items():
            if role == "events" and event and loop is not None and not self._closing:
                loop.call_later(EVENTS_GRACE_S, self.trickle.close_channel, channel.name)
            else:
                self.trickle.close_channel(channel.name)
        self.byoc.table.release(stream.job.entry)
        if event:
            log.info("BYOC stream %s (%s) stopped: %s", stream.id, stream.capability, reason)

    def close(self) -> None:
        """Shutdown: every stream ends (workers are not told: the loop is going away)."""
        self._closing = True
        for stream in list(self._streams.values()):
            self._teardown(stream, "shutdown")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # none (shutdown from the main thread)
        return None


def _current_task() -> asyncio.Task[Any] | None:
    return asyncio.current_task() if _running_loop() is not None else None
