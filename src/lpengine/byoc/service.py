"""BYOC: external capabilities that register with the node and run paid jobs (protocol.md §4.8).

`Byoc` is the engine's part for it. Workers register (an HTTP service, or a host's callable
through `register_callable`); gateways quote (`token`) and submit jobs: `accept` makes go's
checks in go's order (creds, timeout, capacity reserved, price, payment, a balance for 60 s of
compute, the request JSON), then `run` calls the worker within the job's `timeout_seconds` and
charges ceil(seconds) of compute at the job's price, whatever the worker answered.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import httpx

from lpengine.byoc import job as j
from lpengine.byoc.health import PROBE_TIMEOUT_S, HealthChecker, connect
from lpengine.byoc.registration import Registration, RegistrationError
from lpengine.byoc.sse import float_string, relay
from lpengine.byoc.table import CapabilityTable, Entry, Handler
from lpengine.byoc.worker import (
    BodyTooLarge,
    JobInput,
    WorkerReply,
    WorkerUnreachable,
    call_handler,
    call_http,
    capped,
)
from lpengine.capabilities import Capability
from lpengine.capability_registry import CapabilityRegistry
from lpengine.payment import Payment
from lpengine.pm import ChainError, InsufficientSenderReserve, TicketParams
from lpengine.pm import PaymentError as TicketError
from lpengine.pm.address import parse as parse_address
from lpengine.pm.address import to_address
from lpengine.pm.keccak import keccak256
from lpengine.pm.signature import verify
from lpengine.pricing import PriceBook, PriceInfo, gateway_key

if TYPE_CHECKING:
    from lpengine.billing import Billing

log = logging.getLogger(__name__)

MIN_BALANCE_S = 60  # go: a job starts only with a balance for a minute of compute
MAX_REQUEST_BYTES = 3 * 1024**3  # go's cap on an AI request (protocol.md §9)
MAX_RESPONSE_BYTES = 256 * 1024**2  # a whole answer is held until it is charged
NOT_PROCESSED = "job not able to be processed"


@dataclass(frozen=True)
class JobToken:
    """The answer to GET /process/token."""

    sender: j.JobSender
    ticket_params: TicketParams | None  # None off-chain
    balance_wei: int
    price: PriceInfo  # per second of compute
    service_addr: str
    available_capacity: int


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


class Byoc:
    def __init__(
        self,
        *,
        registry: CapabilityRegistry,
        prices: PriceBook,
        billing: Billing | None,
        process_payment: Callable[[Payment, str], None],
        service_uri: str,
        orch_secret: str | None,
        health_interval_s: float = 5.0,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.table = CapabilityTable(registry, prices)
        self.health = HealthChecker(self.table, health_interval_s)
        self.prices = prices
        self.billing = billing
        self._process_payment = process_payment
        self.service_uri = service_uri
        self._secret = orch_secret
        self.max_request_bytes = max_request_bytes
        self.max_response_bytes = max_response_bytes
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    # --- registration --------------------------------------------------------------------

    def check_secret(self, given: str | None) -> bool:
        """Whether `given` is -orchSecret; without one set, nobody may register."""
        if self._secret is None or given is None:
            return False
        return hmac.compare_digest(given.encode(), self._secret.encode())

    def register(self, registration: Registration) -> None:
        """An HTTP worker (re-registration updates in place); raises RegistrationError when its
        URL does not resolve or nothing listens there, ValueError for a price the node cannot
        convert. Blocking (it connects to the worker)."""
        if not registration.url:
            raise RegistrationError("url: expected http://host:port of the worker, got ''")
        why = connect(registration.url, PROBE_TIMEOUT_S)
        if why is not None:
            raise RegistrationError(f"url {registration.url}: {why}")
        self.table.register(registration)
        self.health.start()
        log.info(
            "registered BYOC capability %s at %s, capacity %d, %s per second",
            registration.name, registration.url, registration.capacity, registration.price,
        )  # fmt: skip

    def register_callable(
        self,
        name: str,
        handler: Handler,
        *,
        capacity: int = 1,
        price_per_unit: int = 0,
        price_scaling: int = 1,
        currency: str = "WEI",
        description: str = "",
    ) -> None:
        """An in-process capability: `handler(JobInput) -> JobOutput` (a coroutine function, or
        a plain function that runs in a worker thread), priced per second like a worker."""
        registration = Registration(
            name=name,
            capacity=capacity,
            price_per_unit=price_per_unit,
            price_scaling=price_scaling,
            currency=currency,
            description=description,
        )
        self.table.register(registration, handler)
        log.info("registered in-process BYOC capability %s, capacity %d", name, capacity)

    def unregister(self, name: str) -> bool:
        """False if `name` was not registered; jobs in flight finish."""
        removed = self.table.unregister(name)
        if removed:
            log.info("unregistered BYOC capability %s", name)
        return removed

    # --- quotes ---------------------------------------------------------------------------

    def job_price(self, sender: bytes, name: str) -> PriceInfo:
        """Wei per second of `name` for `sender`: the registration's price with go's overhead
        (or the price the balance pinned); raises ValueError, TicketError or ChainError."""
        price = self.prices.capability_price(gateway_key(sender), Capability.BYOC, name)
        if self.table.get(name) is None or price is None:
            raise ValueError(f"capability {name!r} is not registered")
        wei = self.prices.wei(price)
        if wei == 0:
            return PriceInfo(0, 1)
        if self.billing is None:  # quoted, never charged: off-chain there are no tickets
            return PriceInfo.of(wei, self.prices.fixed_point)
        return self.billing.quote(sender, [(Capability.BYOC, name)], session=name)

    def token(self, eth_address: str | None, capability: str | None) -> JobToken:
        """GET /process/token; raises JobRefused with go's status and text."""
        if not eth_address:
            raise j.JobRefused(400, j.NO_ETH_ADDRESS)
        try:
            sender_doc = j.parse_job_sender(eth_address)
            sender = self._sender(sender_doc.addr, sender_doc.sig, sender_doc.addr.encode())
        except (ValueError, j.JobRefused) as err:
            log.info("BYOC token refused: bad Livepeer-Eth-Address: %s", err)
            raise j.JobRefused(400, j.BAD_ETH_ADDRESS) from None
        if not capability:
            raise j.JobRefused(400, j.NO_CAPABILITY)
        try:
            price = self.job_price(sender, capability)
        except (ValueError, TicketError, ChainError) as err:
            status = 503 if isinstance(err, InsufficientSenderReserve) else 400
            raise j.JobRefused(status, f"Could not get price err={err}") from None
        params = None
        if self.billing is not None:
            try:
                params = self.billing.ticket_params(sender, price)
            except (TicketError, ChainError) as err:
                raise j.JobRefused(400, f"Could not get ticket params err={err}") from None
        return JobToken(
            sender=sender_doc,
            ticket_params=params,
            balance_wei=int(self._balance(sender, capability)),
            price=price,
            service_addr=self.service_uri,
            available_capacity=self.table.free(capability),
        )

    # --- jobs -----------------------------------------------------------------------------

    def accept(
        self,
        header: str | None,
        payment: Payment | None,
        *,
        reserve: bool = True,
        min_balance: bool = True,
        strict_payment: bool = False,
    ) -> Job:
        """POST /process/request before the body: go's checks in go's order; raises JobRefused.
        Blocking (signatures, the payments database): call it off the event loop. BYOC streams'
        stop/update/payment calls take no slot (`reserve`), need no minute of balance
        (`min_balance`), and /ai/stream/payment refuses a payment that fails (`strict_payment`).
        """
        try:
            request = j.parse_job_request(header or "")
        except ValueError as err:
            log.info("BYOC job refused: the Livepeer header: %s", err)
            raise j.JobRefused(400, j.NO_JOB_CREDS) from None
        if request.timeout_s <= 0:
            raise j.JobRefused(400, j.NO_TIMEOUT)
        try:
            sender = self._sender(request.sender, request.sig, request.signed_text)
        except ValueError as err:
            log.info("BYOC job %s refused: %s", request.id, err)
            raise j.JobRefused(400, j.NO_JOB_CREDS) from None
        if reserve:
            entry = self.table.reserve(request.capability)
            if entry is None:
                raise j.JobRefused(503, j.NO_CAPACITY)
        else:
            entry = self.table.get(request.capability)
            if entry is None:  # go: a name not registered has no price
                raise j.JobRefused(400, j.NO_JOB_PRICE)
        try:
            try:
                price = self.job_price(sender, request.capability)
            except (ValueError, TicketError, ChainError) as err:
                log.warning("BYOC job %s: no price: %s", request.id, err)
                raise j.JobRefused(400, j.NO_JOB_PRICE) from None
            if price.price_per_unit > 0 and self.billing is not None:
                self._pay(request, payment, strict_payment)
                needed = MIN_BALANCE_S * price.wei_per_unit if min_balance else 0
                if self._balance(sender, request.capability) < needed:
                    raise j.JobRefused(400, j.INSUFFICIENT_BALANCE)
            details = j.request_object(request)
        except BaseException:
            if reserve:
                self.table.release(entry)
            raise
        return Job(request, entry, sender, price, details)

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

    def _pay(self, request: j.JobRequest, payment: Payment | None, strict: bool = False) -> None:
        """go only logs payment errors: the balance check decides (`strict`: refused, 400)."""
        if payment is None or payment.is_empty:
            return
        try:
            self._process_payment(payment, request.capability)
        except Exception as err:
            log.info("BYOC job %s: payment error: %s", request.id, err)
            if strict:
                raise j.JobRefused(400, f"Could not process payment err={err}") from None

    def _sender(self, addr: str, sig: str, message: bytes) -> bytes:
        """The sender's address; with payments on, its signature over `message` must hold
        (off-chain go takes every signature as valid). Raises ValueError."""
        if self.billing is None:
            try:
                return parse_address(addr)
            except ValueError:
                return b""
        sender = parse_address(addr)
        if not verify(sender, keccak256(message), j.signature_bytes(sig)):
            raise ValueError(f"signature check failed for sender {addr}")
        return sender

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

    def describe(self) -> dict[str, dict[str, Any]]:
        return self.table.describe()

    async def aclose(self) -> None:
        """Closes the connections to workers (from the loop that used them)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def close(self) -> None:
        """Stops the health checks."""
        self.health.stop()
