"""BYOC: external capabilities that register with the node and run paid jobs (protocol.md §4.8).

`Byoc` is the engine's part for it. Workers register (an HTTP service, or a host's callable
through `register_callable`); gateways quote (`token`) and submit jobs: `accept` makes go's
checks in go's order (creds, timeout, capacity reserved, price, payment, a balance for 60 s of
compute, the request JSON), then `run` calls the worker within the job's `timeout_seconds` and
charges ceil(seconds) of compute at the job's price, whatever the worker answered (the running
side is `lpengine.byoc.running.JobRunner`, a mixin of `Byoc`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from lpengine.byoc import job as j
from lpengine.byoc.health import PROBE_TIMEOUT_S, HealthChecker, connect
from lpengine.byoc.registration import Registration, RegistrationError
from lpengine.byoc.running import MAX_RESPONSE_BYTES, Job, JobRunner
from lpengine.byoc.table import CapabilityTable, Handler
from lpengine.capabilities import Capability
from lpengine.capability_registry import CapabilityRegistry
from lpengine.payment import Payment
from lpengine.pm import ChainError, InsufficientSenderReserve, TicketParams
from lpengine.pm import PaymentError as TicketError
from lpengine.pm.address import parse as parse_address
from lpengine.pm.keccak import keccak256
from lpengine.pm.signature import verify
from lpengine.pricing import PriceBook, PriceInfo, gateway_key

if TYPE_CHECKING:
    from lpengine.billing import Billing

log = logging.getLogger(__name__)

MIN_BALANCE_S = 60  # go: a job starts only with a balance for a minute of compute
MAX_REQUEST_BYTES = 3 * 1024**3  # go's cap on an AI request (protocol.md §9)


@dataclass(frozen=True)
class JobToken:
    """The answer to GET /process/token."""

    sender: j.JobSender
    ticket_params: TicketParams | None  # None off-chain
    balance_wei: int
    price: PriceInfo  # per second of compute
    service_addr: str
    available_capacity: int


class Byoc(JobRunner):
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
