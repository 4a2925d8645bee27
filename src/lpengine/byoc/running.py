"""Running an accepted BYOC job (protocol.md §4.8): the worker called within the job's
`timeout_seconds`, its answer relayed whole or as server-sent events, and ceil(seconds) of
compute charged at the job's price whatever the worker answered. `JobRunner` is a mixin of
`Byoc` (`lpengine.byoc.service`), which accepts jobs; it uses the node's capability table,
health checks and billing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import httpx

from lpengine.byoc import job as j
from lpengine.byoc.health import HealthChecker
from lpengine.byoc.sse import float_string, relay
from lpengine.byoc.table import CapabilityTable, Entry
from lpengine.byoc.worker import (
    BodyTooLarge,
    JobInput,
    WorkerReply,
    WorkerUnreachable,
    call_handler,
    call_http,
    capped,
)
from lpengine.pm.address import to_address
from lpengine.pricing import PriceInfo

if TYPE_CHECKING:
    from lpengine.billing import Billing

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 256 * 1024**2  # a whole answer is held until it is charged
NOT_PROCESSED = "job not able to be processed"


@dataclass(eq=False)
class Job:
    """A job accepted: a slot reserved, paid for; `Byoc.run` releases the slot."""

    request: j.JobRequest
    entry: Entry
    sender: bytes  # 20 bytes, or b"" off-chain without one
    price: PriceInfo
    details: dict[str, Any]
    started_s: float = 0.0  # time.monotonic() when the worker call began
    charged_units: int = 0
    done: bool = False

    @property
    def name(self) -> str:
        return self.request.capability


@dataclass
class JobResult:
    """What goes back: a whole body, or (SSE) `events` relayed as they come."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    events: AsyncIterator[bytes] | None = None


class JobRunner:
    table: CapabilityTable
    health: HealthChecker
    billing: Billing | None
    max_request_bytes: int
    max_response_bytes: int
    _client: httpx.AsyncClient | None
    _client_loop: asyncio.AbstractEventLoop | None

    unregister: Callable[[str], bool]  # NOTE: Byoc's: removes a registration

    async def run(
        self,
        job: Job,
        subpath: str,
        body: AsyncIterable[bytes],
        content_type: str = "",
        content_length: str | None = None,
    ) -> JobResult:
        """Calls the worker and answers; always releases the job's slot (for SSE, when the
        relayed stream ends) and charges ceil(seconds) of compute."""
        job.started_s = time.monotonic()
        deadline_s = job.started_s + job.request.timeout_s
        try:
            async with asyncio.timeout(job.request.timeout_s):
                reply = await self._call(job, subpath, body, content_type, content_length)
        except TimeoutError:
            return self._failed(job, 500, f"{NOT_PROCESSED} err=context deadline exceeded")
        except WorkerUnreachable as err:
            self.table.set_health(job.entry, str(err))
            self.health.check_soon()
            return self._failed(job, 500, f"{NOT_PROCESSED}, removing capability err={err}")
        except BodyTooLarge as err:
            return self._failed(job, 413, str(err))
        except Exception as err:  # an in-process capability that raised, a gateway gone
            log.warning("BYOC job %s failed: %r", job.request.id, err)
            return self._failed(job, 500, f"{NOT_PROCESSED} err={err}")
        if reply.status == 401 and job.entry.handler is None:
            await reply.close()
            self.unregister(job.name)  # NOTE: its token is wrong: only a new registration helps
            return self._failed(job, 500, f"{NOT_PROCESSED}, removing capability err=401")
        if reply.is_sse:
            headers = {
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "Livepeer-Payment-Balance": float_string(self._balance_of(job), 0),
            }
            if reply.metadata:
                headers["X-Metadata"] = reply.metadata
            return JobResult(reply.status, headers, events=self._events(job, reply, deadline_s))
        return await self._whole(job, reply, deadline_s)

    async def _call(
        self,
        job: Job,
        subpath: str,
        body: AsyncIterable[bytes],
        content_type: str,
        content_length: str | None,
    ) -> WorkerReply:
        limited = capped(body, self.max_request_bytes)
        registration, handler = job.entry.registration, job.entry.handler
        if handler is None:
            client = self._http()
            return await call_http(
                client, registration, subpath, limited, content_type, content_length
            )
        data = b"".join([chunk async for chunk in limited])
        job_input = JobInput(
            job.name, subpath, data, content_type, job.details, job.request.parameters,
            job.request.timeout_s,
        )  # fmt: skip
        return await call_handler(handler, job_input)

    async def _whole(self, job: Job, reply: WorkerReply, deadline_s: float) -> JobResult:
        error = None
        chunks, size = [], 0
        try:
            async with asyncio.timeout(max(0.0, deadline_s - time.monotonic())):
                async for chunk in reply.chunks:
                    size += len(chunk)
                    if size > self.max_response_bytes:
                        error = f"worker response larger than {self.max_response_bytes} bytes"
                        break
                    chunks.append(chunk)
        except TimeoutError:
            error = "context deadline exceeded"
        except WorkerUnreachable as err:
            error = str(err)
        finally:
            await reply.close()
        if error is not None:
            return self._failed(job, 500, f"{NOT_PROCESSED} err={error}")
        self._finish(job)
        data = b"".join(chunks)
        headers = {"Livepeer-Balance": float_string(self._balance_of(job), 0)}
        if reply.status > 399:  # relayed as go's http.Error: the worker's text, a newline
            log.warning("BYOC job %s: the worker answered %d", job.request.id, reply.status)
            headers["Content-Type"] = "text/plain; charset=utf-8"
            return JobResult(reply.status, headers, data + b"\n")
        if reply.content_type:
            headers["Content-Type"] = reply.content_type
        if reply.metadata:
            headers["X-Metadata"] = reply.metadata
        return JobResult(reply.status, headers, data)

    async def _events(
        self, job: Job, reply: WorkerReply, deadline_s: float
    ) -> AsyncIterator[bytes]:
        try:
            async for chunk in relay(
                reply.chunks,
                deadline_s=deadline_s,
                debit=lambda units: self._debit(job, units),
                balance=lambda: self._balance_of(job),
            ):
                yield chunk
        except WorkerUnreachable as err:
            log.warning("BYOC job %s: the worker's stream broke: %s", job.request.id, err)
        finally:
            await reply.close()
            self._finish(job)

    def _failed(self, job: Job, status: int, text: str) -> JobResult:
        log.warning("BYOC job %s (%s): %s", job.request.id, job.name, text)
        self._finish(job)
        headers = {"Livepeer-Balance": float_string(self._balance_of(job), 0)}
        return JobResult(status, headers, (text + "\n").encode())

    def _finish(self, job: Job) -> None:
        """Charges what is left of ceil(seconds) and releases the slot, once."""
        if job.done:
            return
        job.done = True
        seconds = time.monotonic() - job.started_s
        self._debit(job, math.ceil(seconds) - job.charged_units)
        self.table.release(job.entry)

    def _debit(self, job: Job, units: int) -> Fraction | None:
        """The balance left after `units` seconds; None when nothing is charged."""
        if self.billing is None or job.price.price_per_unit <= 0 or units <= 0:
            return None
        job.charged_units += units
        return self.billing.debit(job.sender, job.name, units, job.price)

    def charge(self, job: Job, units: int) -> Fraction | None:
        """Debits `units` seconds of compute at the job's price; returns the balance left, None
        when nothing is charged (off-chain, or a free capability)."""
        return self._debit(job, units)

    def balance_of(self, job: Job) -> Fraction:
        """The balance of the job's sender for its capability (0 when there is none)."""
        return self._balance_of(job)

    def http(self) -> httpx.AsyncClient:
        """The pooled client to the workers, for the running event loop."""
        return self._http()

    def _balance_of(self, job: Job) -> Fraction:
        return self._balance(job.sender, job.name)

    def _balance(self, sender: bytes, key: str) -> Fraction:
        if self.billing is None:
            return Fraction(0)
        amount = self.billing.receiver.balance(to_address(sender), key)
        return amount if amount is not None else Fraction(0)

    def _http(self) -> httpx.AsyncClient:
        """One pooled client per event loop (keep-alive connections to the workers)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(None),  # NOTE: the job's deadline bounds every call
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
                trust_env=False,
            )
            self._client_loop = loop
        return self._client
