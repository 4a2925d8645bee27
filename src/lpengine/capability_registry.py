"""What the node advertises, computed from what its workloads can do right now.

Nothing is declared: each workload (the codec probe for transcoding today; AI model loaders, live
runners, remote workers and BYOC registrations as they are built) publishes an `Offer` under its
own source name, and withdraws or republishes it as models load, sessions start and workers come
and go. The advertisement is the merge of the current offers, so a capability is advertised only
while something that can run it is present.

    registry.publish("transcoding", Offer({Capability.H264: 1, ...}))
    registry.publish("ai:text-to-image", Offer({27: 2}, models=(ModelOffer(27, "sdxl", ...),)))
    registry.advertised()  # -> CapabilitySet
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from lpengine.capabilities import CapabilitySet, ModelConstraint, capability_name, encode_bitstring

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelOffer:
    """One model of one capability that a source can run."""

    capability: int
    model_id: str
    warm: bool
    capacity: int  # free slots
    capacity_in_use: int = 0
    runner_version: str = ""


@dataclass(frozen=True)
class Offer:
    """What one source can do: capability -> capacity, plus per-model constraints."""

    capacities: Mapping[int, int]
    models: tuple[ModelOffer, ...] = ()
    detail: Mapping[int, str] = field(default_factory=dict)  # capability -> what proved it

    def __post_init__(self) -> None:
        for cap, capacity in self.capacities.items():
            if cap < 0 or capacity < 0:
                raise ValueError(
                    f"capacities: expected capability >= 0 and capacity >= 0, got {cap}: {capacity}"
                )
        for m in self.models:
            if m.capability not in self.capacities:
                raise ValueError(
                    f"models: {m.model_id!r} is offered for capability {m.capability}, "
                    "which is missing from capacities"
                )


class CapabilityRegistry:
    """Merges the offers of all sources into one `CapabilitySet`; safe to call from any thread."""

    def __init__(self, version: str) -> None:
        self.version = version
        self._offers: dict[str, Offer] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[CapabilitySet], None]] = []
        self._advertised = CapabilitySet(version=version)
        self._stale = False  # offers changed since `_advertised` was built
        self.generation = 0  # bumped on every change

    def publish(self, source: str, offer: Offer) -> None:
        """Sets (or replaces) what `source` can do.

        NOTE: the merge is rebuilt when next read, not here: AI models republish on every
        request (capacity in use), far more often than gateways ask what is advertised."""
        with self._lock:
            self._offers[source] = offer
            self._changed()
        self._notify()

    def withdraw(self, source: str) -> None:
        """Removes everything `source` offered; unknown sources are ignored."""
        with self._lock:
            if self._offers.pop(source, None) is None:
                return
            self._changed()
        self._notify()

    def offers(self) -> dict[str, Offer]:
        with self._lock:
            return dict(self._offers)

    def advertised(self) -> CapabilitySet:
        """The current advertisement (an immutable snapshot)."""
        with self._lock:
            if self._stale:
                self._rebuild()
            return self._advertised

    def subscribe(self, listener: Callable[[CapabilitySet], None]) -> Callable[[], None]:
        """Calls `listener` after every change; returns the function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def describe(self) -> str:
        caps = self.advertised().capacities
        return ", ".join(f"{capability_name(c)} ({c})" for c in sorted(caps)) or "nothing"

    def _changed(self) -> None:
        self._stale = True
        self.generation += 1

    def _rebuild(self) -> None:
        capacities: dict[int, int] = {}
        models: dict[int, dict[str, ModelConstraint]] = {}
        for offer in self._offers.values():
            for cap, capacity in offer.capacities.items():
                capacities[cap] = capacities.get(cap, 0) + capacity
            for m in offer.models:
                per_model = models.setdefault(m.capability, {})
                per_model[m.model_id] = _merge(per_model.get(m.model_id), m)
        # NOTE: a capability whose total capacity is 0 is not advertised (go clears the bit).
        capacities = {c: n for c, n in capacities.items() if n > 0}
        self._advertised = CapabilitySet(
            bitstring=encode_bitstring(sorted(capacities)),
            mandatories=(),  # never non-empty: the SDK's empty bitstring would fail (§3.2)
            capacities=capacities,
            version=self.version,
            per_capability={c: ms for c, ms in models.items() if c in capacities},
        )
        self._stale = False

    def _notify(self) -> None:
        if not self._listeners:
            return
        snapshot = self.advertised()
        for listener in list(self._listeners):
            try:
                listener(snapshot)
            except Exception:  # a broken listener must not stop the others or the publisher
                log.exception("capability listener failed")


def _merge(current: ModelConstraint | None, offer: ModelOffer) -> ModelConstraint:
    """Sums slots over sources; warm if any source is warm; the lowest runner version."""
    if current is None:
        return ModelConstraint(
            warm=offer.warm,
            capacity=offer.capacity,
            runner_version=offer.runner_version,
            capacity_in_use=offer.capacity_in_use,
        )
    versions = [v for v in (current.runner_version, offer.runner_version) if v]
    return ModelConstraint(
        warm=current.warm or offer.warm,
        capacity=current.capacity + offer.capacity,
        runner_version=min(versions, key=_version_key) if versions else "",
        capacity_in_use=current.capacity_in_use + offer.capacity_in_use,
    )


def _version_key(version: str) -> tuple[int, ...]:
    parts = version.lstrip("v").split("-", 1)[0].split(".")
    return tuple(int(p) if p.isdigit() else 0 for p in parts)
