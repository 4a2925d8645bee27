"""The registered BYOC capabilities: capacity, jobs in flight, health, and what is advertised.

Each change republishes the `byoc` offer (capability 37, one model constraint per name with
capacity = registered - in flight, 0 while the worker is unavailable) and keeps each name's
price in the price book, so GetOrchestrator's capacities and `capabilities_prices` follow
registrations, jobs and health checks as they happen.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from lpengine.byoc.registration import Registration
from lpengine.capabilities import Capability
from lpengine.capability_registry import CapabilityRegistry, ModelOffer, Offer
from lpengine.pricing import DEFAULT_GATEWAY, PriceBook

log = logging.getLogger(__name__)

SOURCE = "byoc"

Handler = Callable[[Any], Awaitable[Any]] | Callable[[Any], Any]
"""An in-process capability: `JobInput -> JobOutput`, a coroutine function or a plain one."""


@dataclass(eq=False)
class Entry:
    """One registered capability. NOTE: mutated only under the table's lock; a job keeps its
    entry, so a re-registration (updated in place) keeps the count of jobs in flight."""

    registration: Registration
    handler: Handler | None = None  # in-process; None: an HTTP worker at registration.url
    in_flight: int = 0
    unavailable: str | None = None  # why the last health check or job failed; None: healthy
    registered: bool = True

    @property
    def name(self) -> str:
        return self.registration.name

    @property
    def free(self) -> int:
        if self.unavailable is not None or not self.registered:
            return 0
        return max(0, self.registration.capacity - self.in_flight)


class CapabilityTable:
    def __init__(self, registry: CapabilityRegistry, prices: PriceBook) -> None:
        self._registry = registry
        self._prices = prices
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}

    def register(self, registration: Registration, handler: Handler | None = None) -> Entry:
        """Adds or updates in place; raises ValueError for a price the book cannot convert."""
        name = registration.name
        with self._lock:
            # NOTE: the price first: a currency without a feed refuses the whole registration.
            self._prices.set_capability_price(
                DEFAULT_GATEWAY, Capability.BYOC, name, registration.price
            )
            entry = self._entries.get(name)
            if entry is None:
                entry = self._entries[name] = Entry(registration, handler)
            else:
                entry.registration, entry.handler = registration, handler
                entry.unavailable = None
            self._publish()
        return entry

    def unregister(self, name: str) -> bool:
        with self._lock:
            entry = self._entries.pop(name, None)
            if entry is None:
                return False
            entry.registered = False
            self._prices.set_capability_price(DEFAULT_GATEWAY, Capability.BYOC, name, None)
            self._publish()
        return True

    def get(self, name: str) -> Entry | None:
        return self._entries.get(name)

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries.values())

    def free(self, name: str) -> int:
        entry = self._entries.get(name)
        return 0 if entry is None else entry.free

    def reserve(self, name: str) -> Entry | None:
        """One slot of `name`, or None when it is unknown, unavailable or full."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is None or entry.free <= 0:
                return None
            entry.in_flight += 1
            self._publish()
            return entry

    def release(self, entry: Entry) -> None:
        with self._lock:
            entry.in_flight = max(0, entry.in_flight - 1)
            if entry.registered:
                self._publish()

    def set_health(self, entry: Entry, why_not: str | None) -> None:
        """`why_not` None: the worker is available; else why it is not."""
        with self._lock:
            if not entry.registered or entry.unavailable == why_not:
                return
            was = entry.unavailable
            entry.unavailable = why_not
            if (was is None) != (why_not is None):
                self._publish()
        if why_not is None:
            log.info("BYOC %s is available again (%s)", entry.name, entry.registration.url)
        elif was is None:
            log.warning("BYOC %s is unavailable: %s", entry.name, why_not)

    def describe(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {
                e.name: {
                    "url": e.registration.url or "in-process",
                    "capacity": e.registration.capacity,
                    "in_flight": e.in_flight,
                    "available": e.unavailable is None,
                    "unavailable_because": e.unavailable,
                    "price_per_second": str(e.registration.price),
                }
                for e in self._entries.values()
            }

    def _publish(self) -> None:
        """NOTE: called with the lock held, so offers are published in the order of changes."""
        if not self._entries:
            self._registry.withdraw(SOURCE)
            return
        models = tuple(
            ModelOffer(Capability.BYOC, e.name, warm=True, capacity=e.free)
            for e in self._entries.values()
        )
        total = sum(m.capacity for m in models)
        self._registry.publish(SOURCE, Offer({Capability.BYOC: total}, models=models))
