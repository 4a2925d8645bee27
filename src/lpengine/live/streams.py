"""The node's live streams: capacity, start, the capability offer, shutdown (protocol.md §4.6).

`LiveStreams.reserve(model_id)` takes a slot before anything is paid (503 otherwise), `start`
creates the four channels and the in-process session, and the slot comes back when the session
ends. What can run is advertised as live-video-to-video (35) with one model per pipeline and
its free and used slots, republished as streams start and stop.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from lpengine.capabilities import Capability
from lpengine.capability_registry import CapabilityRegistry, ModelOffer, Offer
from lpengine.live import pipelines
from lpengine.live.payments import LivePayments
from lpengine.live.session import LiveSession, StreamChannels
from lpengine.live.trickle import TrickleServer

log = logging.getLogger(__name__)

SOURCE = "live"
DEFAULT_CAPACITY = 4  # concurrent streams per pipeline
TRICKLE_PATH = "/ai/trickle/"


class InsufficientCapacity(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(f"insufficient capacity: {detail}")


@dataclass(frozen=True)
class Reservation:
    model_id: str
    manifest_id: str


@dataclass(frozen=True)
class LiveJob:
    """What the gateway gets back: the URLs of the four channels and the manifest id."""

    manifest_id: str
    publish_url: str
    subscribe_url: str
    control_url: str
    events_url: str

    def to_json(self) -> dict[str, str]:
        return dict(self.__dict__)


Debit = Callable[[str, int], Fraction]  # (manifest id, units) -> balance left


class LiveStreams:
    def __init__(
        self,
        trickle: TrickleServer,
        registry: CapabilityRegistry,
        service_uri: str,
        capacity: int = DEFAULT_CAPACITY,
        available: Mapping[str, pipelines.Factory] | None = None,
    ) -> None:
        """`available`: model id -> pipeline factory (default: `pipelines.PIPELINES`)."""
        self.pipelines = dict(pipelines.PIPELINES if available is None else available)
        self.trickle = trickle
        self.registry = registry
        self.base_url = service_uri.rstrip("/") + TRICKLE_PATH
        self.capacity = capacity
        self._reserved: dict[str, str] = {}  # manifest id -> model id
        self.sessions: dict[str, LiveSession] = {}
        self._advertise()

    def in_use(self, model_id: str) -> int:
        return sum(1 for m in self._reserved.values() if m == model_id)

    def reserve(self, model_id: str) -> Reservation:
        """A slot for one stream of `model_id`; InsufficientCapacity if none is free."""
        if model_id not in self.pipelines:
            known = ", ".join(sorted(self.pipelines))
            raise InsufficientCapacity(f"no live pipeline {model_id!r} here (known: {known})")
        if self.in_use(model_id) >= self.capacity:
            raise InsufficientCapacity(f"all {self.capacity} {model_id} slots are in use")
        mid = secrets.token_hex(4)
        while mid in self._reserved or self.trickle.channel(mid) is not None:
            mid = secrets.token_hex(4)
        self._reserved[mid] = model_id
        self._advertise()
        return Reservation(model_id, mid)

    def release(self, reservation: Reservation) -> None:
        if self._reserved.pop(reservation.manifest_id, None) is not None:
            self._advertise()

    def start(
        self,
        reservation: Reservation,
        params: Mapping[str, Any],
        debit: Debit | None = None,
    ) -> LiveJob:
        """Channels, pipeline and session for a reserved slot; ValueError for bad params (the
        slot is released then). Runs on the server's event loop and returns at once."""
        mid = reservation.manifest_id
        try:
            pipeline = self.pipelines[reservation.model_id](params)
        except ValueError:
            self.release(reservation)
            raise
        names = (mid, f"{mid}-out", f"{mid}-control", f"{mid}-events")
        mimes = ("video/MP2T", "video/MP2T", "application/json", "application/json")
        chans = [self.trickle.create_channel(n, m) for n, m in zip(names, mimes, strict=True)]
        payments = LivePayments(lambda units: debit(mid, units)) if debit is not None else None
        session = LiveSession(
            mid,
            pipeline,
            StreamChannels(*chans),
            self.trickle,
            payments=payments,
            on_end=lambda s: self._ended(reservation, s),
        )
        self.sessions[mid] = session
        session.start()
        log.info("live stream %s started: %s", mid, reservation.model_id)
        urls = [self.base_url + n for n in names]
        return LiveJob(mid, *urls)

    def _ended(self, reservation: Reservation, session: LiveSession) -> None:
        self.sessions.pop(reservation.manifest_id, None)
        self.release(reservation)
        log.info("live stream %s ended: %s", reservation.manifest_id, session.stop_reason)

    def stop_all(self, reason: str = "the node is shutting down") -> None:
        """Ends every stream's threads at once and lets their sessions close (synchronous: the
        event loop may be about to end)."""
        for session in list(self.sessions.values()):
            session.abort()
            session.request_stop(reason)

    def _advertise(self) -> None:
        cap = int(Capability.LIVE_VIDEO_TO_VIDEO)
        models = tuple(
            ModelOffer(
                cap,
                name,
                warm=True,
                capacity=max(self.capacity - self.in_use(name), 0),
                capacity_in_use=self.in_use(name),
            )
            for name in sorted(self.pipelines)
        )
        free = sum(m.capacity for m in models)
        self.registry.publish(SOURCE, Offer({cap: free}, models=models))
