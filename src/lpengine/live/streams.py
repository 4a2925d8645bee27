"""The node's live streams: capacity, start, the capability offer, shutdown (protocol.md §4.6).

`LiveStreams.reserve(model_id)` takes a slot before anything is paid (503 otherwise), `start`
creates the four channels and the in-process session, and the slot comes back when the session
ends. What can run is advertised as live-video-to-video (35) with one model per pipeline and
its free and used slots, republished as streams start and stop. `load_models` adds the
-aiModels live-video-to-video models (`lpengine.live.models`): advertised cold with no free slot
while they load in a background thread (a start then answers 503), warm with their own
`capacity` once loaded, withdrawn if they fail to load. A running stream may switch to another
model (`lpengine.live.reload`): `begin_switch` takes a slot of it (counted as in use while the
stream reloads, even while the model is still loading) and `end_switch` keeps one of the two.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from lpengine.ai.model_config import AIModelConfig
from lpengine.capabilities import Capability
from lpengine.capability_registry import CapabilityRegistry, ModelOffer, Offer
from lpengine.live import pipelines
from lpengine.live.channels import StreamChannels
from lpengine.live.encode import SOFTWARE
from lpengine.live.models import LiveModelLoader, live_entries, load_diffusion
from lpengine.live.payments import LivePayments
from lpengine.live.reload import ModelWait
from lpengine.live.session import LiveSession
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
        encoder: str = SOFTWARE,
    ) -> None:
        """`available`: model id -> pipeline factory (default: `pipelines.PIPELINES`);
        `encoder`: the H.264 encoder streams use (the node's proven one: NVENC or x264)."""
        self.pipelines = dict(pipelines.PIPELINES if available is None else available)
        self.encoder = encoder
        self.trickle = trickle
        self.registry = registry
        self.base_url = service_uri.rstrip("/") + TRICKLE_PATH
        self.capacity = capacity
        self._capacities = dict.fromkeys(self.pipelines, capacity)  # model id -> slots
        self._loading: dict[str, int] = {}  # model id -> slots once loaded
        self._load_ended: dict[str, threading.Event] = {}  # model id -> set once loaded or not
        self._load_errors: dict[str, str] = {}  # model id -> why it did not load
        self._loader: LiveModelLoader | None = None
        # NOTE: the loader thread changes the offer too; the event loop reserves and releases.
        self._lock = threading.RLock()
        self._reserved: dict[str, str] = {}  # manifest id -> model id
        self._switching: dict[str, str] = {}  # manifest id -> the model it is switching to
        self.sessions: dict[str, LiveSession] = {}
        self._switch_checks: dict[str, Callable[[str], None]] = {}  # manifest id -> price rule
        with self._lock:
            self._advertise()

    def load_models(
        self,
        models_dir: Path,
        configs: Sequence[AIModelConfig],
        load: Callable[[Path], pipelines.Factory] = load_diffusion,
    ) -> None:
        """Starts loading the live-video-to-video entries of `configs` from `models_dir` in a
        background thread (`load`: folder -> factory, blocking) and returns at once; a second
        call does nothing."""
        entries = live_entries(configs)
        if self._loader is not None or not entries:
            return
        with self._lock:
            self._loading.update((e.model_id, e.capacity) for e in entries)
            self._load_ended.update((e.model_id, threading.Event()) for e in entries)
            self._advertise()
        self._loader = LiveModelLoader(models_dir, entries, self._loaded, self._not_loaded, load)
        self._loader.start()

    def wait_for_models(self, timeout_s: float | None = None) -> bool:
        """Blocks until every live model has loaded or failed (for hosts and tests; never on
        the event loop); True once none is loading."""
        if self._loader is not None:
            self._loader.join(timeout_s)
        return not self.loading()

    def loading(self) -> list[str]:
        with self._lock:
            return sorted(self._loading)

    def _loaded(self, model_id: str, factory: pipelines.Factory, capacity: int) -> None:
        with self._lock:
            self._loading.pop(model_id, None)
            self.pipelines[model_id] = factory
            self._capacities[model_id] = capacity
            self._advertise()
        self._load_ended[model_id].set()

    def _not_loaded(self, model_id: str, why: str) -> None:
        with self._lock:
            self._loading.pop(model_id, None)
            self._load_errors[model_id] = why
            self._advertise()
        self._load_ended[model_id].set()

    def in_use(self, model_id: str) -> int:
        with self._lock:
            held = [*self._reserved.values(), *self._switching.values()]
            return sum(1 for m in held if m == model_id)

    def begin_switch(self, manifest_id: str, model_id: str) -> ModelWait:
        """A slot of `model_id` for the running stream `manifest_id`, which reloads to it; a
        model still loading counts its slots to come. ValueError if there is no such model,
        no free slot, or no such stream."""
        with self._lock:
            slots = self._capacities.get(model_id, self._loading.get(model_id))
            if slots is None:
                known = ", ".join(sorted({*self.pipelines, *self._loading}))
                raise ValueError(f"model_id: no live model {model_id!r} here (known: {known})")
            if manifest_id not in self._reserved or manifest_id in self._switching:
                raise ValueError(f"model_id: stream {manifest_id} cannot switch now")
            if (check := self._switch_checks.get(manifest_id)) is not None:
                check(model_id)
            if self.in_use(model_id) >= slots:
                raise ValueError(f"insufficient capacity: all {slots} {model_id} slots are in use")
            self._switching[manifest_id] = model_id
            self._advertise()
            ended = self._load_ended.get(model_id)

        def wait(stop: threading.Event) -> pipelines.Factory:
            """`model_id`'s factory once loaded (a thread, never the event loop)."""
            while ended is not None and not ended.wait(0.1):
                if stop.is_set():
                    raise RuntimeError("the stream stopped")
            with self._lock:
                factory = self.pipelines.get(model_id)
                if factory is None:
                    why = self._load_errors.get(model_id, "the node is shutting down")
                    raise ValueError(f"live model {model_id} did not load: {why}")
                return factory

        return wait

    def end_switch(self, manifest_id: str, model_id: str, switched: bool) -> None:
        """The stream now holds `model_id`'s slot instead of its old one (switched), or gives
        back the slot `begin_switch` took. Nothing if the stream ended meanwhile."""
        with self._lock:
            if self._switching.get(manifest_id) != model_id:
                return
            del self._switching[manifest_id]
            if switched and manifest_id in self._reserved:
                self._reserved[manifest_id] = model_id
            self._advertise()

    def reserve(self, model_id: str) -> Reservation:
        """A slot for one stream of `model_id`; InsufficientCapacity if none is free (or the
        model is still loading)."""
        with self._lock:
            if model_id in self._loading:
                raise InsufficientCapacity(f"live model {model_id!r} is still loading")
            if model_id not in self.pipelines:
                known = ", ".join(sorted(self.pipelines))
                raise InsufficientCapacity(f"no live pipeline {model_id!r} here (known: {known})")
            slots = self._capacities[model_id]
            if self.in_use(model_id) >= slots:
                raise InsufficientCapacity(f"all {slots} {model_id} slots are in use")
            mid = secrets.token_hex(4)
            while mid in self._reserved or self.trickle.channel(mid) is not None:
                mid = secrets.token_hex(4)
            self._reserved[mid] = model_id
            self._advertise()
        return Reservation(model_id, mid)

    def release(self, reservation: Reservation) -> None:
        with self._lock:
            switching = self._switching.pop(reservation.manifest_id, None)
            if self._reserved.pop(reservation.manifest_id, None) or switching:
                self._advertise()

    def start(
        self,
        reservation: Reservation,
        params: Mapping[str, Any],
        debit: Debit | None = None,
        switch_check: Callable[[str], None] | None = None,
    ) -> LiveJob:
        """Channels, pipeline and session for a reserved slot; ValueError for bad params (the
        slot is released then). `switch_check(model_id)` raises ValueError for a model this
        stream may not switch to (its price: `live.payments.switch_price_check`). Runs on the
        server's event loop and returns at once."""
        mid = reservation.manifest_id
        factory = self.pipelines[reservation.model_id]
        try:
            pipeline = factory(params)
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
            model_id=reservation.model_id,
            switch=self,
            factory=factory,
            encoder=self.encoder,
        )
        self.sessions[mid] = session
        if switch_check is not None:
            self._switch_checks[mid] = switch_check
        session.start()
        log.info("live stream %s started: %s", mid, reservation.model_id)
        urls = [self.base_url + n for n in names]
        return LiveJob(mid, *urls)

    def _ended(self, reservation: Reservation, session: LiveSession) -> None:
        self.sessions.pop(reservation.manifest_id, None)
        self._switch_checks.pop(reservation.manifest_id, None)
        self.release(reservation)
        log.info("live stream %s ended: %s", reservation.manifest_id, session.stop_reason)

    def stop_all(self, reason: str = "the node is shutting down") -> None:
        """Ends every stream's threads at once and lets their sessions close (synchronous: the
        event loop may be about to end); a model still loading is not offered after this."""
        if self._loader is not None:
            self._loader.stop()
        for session in list(self.sessions.values()):
            session.abort()
            session.request_stop(reason)

    def _advertise(self) -> None:
        """Publishes the offer: called with the lock held."""
        cap = int(Capability.LIVE_VIDEO_TO_VIDEO)
        slots = {**self._capacities, **dict.fromkeys(self._loading, 0)}  # none free yet
        models = tuple(
            ModelOffer(
                cap,
                name,
                warm=name not in self._loading,
                capacity=max(slots[name] - self.in_use(name), 0),
                capacity_in_use=self.in_use(name),
            )
            for name in sorted(slots)
        )
        free = sum(m.capacity for m in models)
        self.registry.publish(SOURCE, Offer({cap: free}, models=models))
