"""Engine: the embeddable object every host (and the server) talks to.

It owns the machine's resources and everything a gateway can ask for; workloads (transcoding,
AI, live, BYOC) attach to it as they are built. What every paid call checks and charges is
`paid_calls.PaidCalls`, the transcoding work `segment_work.SegmentWork`; Engine is made of
both. A host process uses it directly:

    with lpengine.Engine() as engine:
        info = engine.get_orchestrator(OrchestratorRequest())
"""

from __future__ import annotations

import logging
import socket
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any

from lpengine import _native, hardware
from lpengine.ai.manager import ModelManager
from lpengine.ai.results import DEFAULT_RESULTS_BYTES, RESULTS_TTL_S
from lpengine.ai.service import AIService
from lpengine.auth_token import AuthToken, AuthTokenError, AuthTokens
from lpengine.billing import Billing
from lpengine.byoc import Byoc
from lpengine.byoc.stream import ByocStreams
from lpengine.capabilities import capability_name
from lpengine.capability_registry import CapabilityRegistry
from lpengine.config import EngineConfig
from lpengine.discovery import Discovery, OrchestratorInfo, OrchestratorRequest
from lpengine.live.encode import SOFTWARE
from lpengine.live.streams import LiveStreams
from lpengine.live.trickle import TrickleServer
from lpengine.media import codecs
from lpengine.media.profile import VideoCodec
from lpengine.media.session import TranscodeSessions
from lpengine.media.store import RenditionStore
from lpengine.metrics import Metrics
from lpengine.price_feed_watcher import PriceFeedWatcher
from lpengine.pricing import Price, PriceBook, PriceInfo
from lpengine.segment_work import SegmentWork
from lpengine.sessions import (
    DEFAULT_MAX_SESSIONS,
    SESSION_IDLE_S,
    MaxSessions,
    Sessions,
)

log = logging.getLogger(__name__)


def node_version() -> str:
    """The version advertised in Capabilities.version (gateways compare it to a minVersion)."""
    try:
        return version("lpengine")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0"


class Engine(SegmentWork):
    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config = config or EngineConfig()
        self._closed = False
        if config.num_threads and _native.HAS_NATIVE:
            _native.core.set_num_threads(config.num_threads)
        self.hardware = hardware.detect()
        self.features: dict[str, Any] = _native.compiled_features()
        self.metrics = Metrics(node_id=socket.gethostname())
        self.capabilities = CapabilityRegistry(version=node_version())
        self.sessions = Sessions(config.max_sessions, idle_s=SESSION_IDLE_S)
        self.renditions = RenditionStore()  # what /stream/ serves
        self.ai_results = RenditionStore(DEFAULT_RESULTS_BYTES, RESULTS_TTL_S)  # /stream/ too
        self.transcodes = TranscodeSessions()  # per stream: segment queue, timeline, counts
        self.sessions.set_pixel_rate_limit(config.max_pixel_rate, self.transcodes.pixel_rates)
        # /ai/trickle/ channels (live, BYOC streams)
        self.trickle = TrickleServer(changefeed=config.trickle_changefeed)
        feed = config.price_feed.latest() if config.price_feed is not None else None
        self.prices = PriceBook(
            config.price,
            config.price_per_gateway,
            {
                (m.gateway, m.capability, m.model_id): price
                for m in config.ai_models
                if (price := m.price(config.pixels_per_unit)) is not None
            },
            fixed_point=config.auto_adjust_price,
            feed=feed,  # raises PriceFeedError if it cannot convert a price's currency
        )
        self.tokens = AuthTokens.load_or_create(config.data_dir)
        # Payments: on every network but offchain (the node key, the chain view, lpdb.sqlite3).
        self.billing = Billing.open(config, self.prices) if config.payments_on else None
        self.price_feed: PriceFeedWatcher | None = None
        if config.price_feed is not None:
            self.price_feed = PriceFeedWatcher(
                config.price_feed, self.prices.set_feed, interval_s=config.price_feed_interval_s
            )
            self.price_feed.start(feed)
        self.discovery = Discovery(
            registry=self.capabilities,
            prices=self.prices,
            tokens=self.tokens,
            sessions=self.sessions,
            service_uri=config.service_uri,
            gpus=self.hardware.gpus,
            nodes=config.nodes,
            billing=self.billing,
            on_quote=self._record_quote,
        )
        self.byoc = Byoc(  # external capabilities: /capability/register, /process/request/
            registry=self.capabilities,
            prices=self.prices,
            billing=self.billing,
            process_payment=self.process_payment,
            service_uri=config.service_uri,
            orch_secret=config.orch_secret,
            health_interval_s=config.byoc_health_interval_s,
        )
        # BYOC streams (/ai/stream/*): trickle channels, debited every 23 s
        self.byoc_streams = ByocStreams(
            self.byoc, self.trickle, config.byoc_stream_debit_interval_s
        )
        try:
            self.codecs = codecs.probe(self.hardware)
        except BaseException:
            self.close()  # NOTE: releases the payments database lock for the next try
            raise
        self.transcodes.encoders = self.codecs.encoders  # NVENC where it encoded, else software
        self.capabilities.publish("transcoding", codecs.transcoding_offer(self.codecs))
        self.live = LiveStreams(
            self.trickle,
            self.capabilities,
            config.service_uri,
            encoder=self.codecs.encoders.get(VideoCodec.H264, SOFTWARE),
        )
        self.live.load_models(config.models_dir, config.ai_models)  # in a background thread
        # NOTE: go-livepeer's default; the transcoding workload will report its measured capacity.
        self.sessions.set_auto_capacity("transcoding", DEFAULT_MAX_SESSIONS)
        # Batch AI: models from -aiModels in -aiModelsDir; warm ones load now (seconds to minutes).
        self.ai = AIService(
            ModelManager(config.models_dir, config.ai_models, self.capabilities),
            self.check_segment_credentials, self._take_payment, self.check_balance, self._debit,
            results=self.ai_results, results_url=config.service_uri,
        )  # fmt: skip
        self.ai.manager.start()
        self._register_metrics()
        log.info(
            "engine ready: %s; native core %s", self.hardware.describe(), self.describe_features()
        )
        log.info("advertising: %s", self.capabilities.describe())
        for cap, why in sorted(self.codecs.missing.items()):
            log.info("not advertised: %s (%d): %s", capability_name(cap), cap, why)
        self._report_inactive()

    def describe_features(self) -> str:
        f = self.features
        if not f["cpu"]:
            return "absent (numpy reference ops)"
        cuda = (
            f"CUDA {f['cuda_runtime']} archs {','.join(f['cuda_archs'])}"
            if f["cuda"]
            else "no CUDA"
        )
        simd = ",".join(f["cpu_simd"]) or "baseline x86-64"
        return f"{f['version']} (cpu {simd}, {f['threads']} threads; {cuda})"

    def _report_inactive(self) -> None:
        """Says which settings are stored but have no effect yet, so nobody relies on them."""
        c = self.config
        for flag in c.chain.inactive(c.network):
            log.warning("%s is set but has no effect on -network %s", flag, c.network)
        if c.orch_secret is not None:
            log.warning("-orchSecret is used by BYOC only: remote workers are not built yet")
        for m, why in self.ai.manager.unsupported:
            log.warning("aiModels: %s/%s is not advertised: %s", m.pipeline, m.model_id, why)
        if self.billing is None and self.prices.is_priced:
            log.warning(
                "prices are quoted but not charged: off-chain there are no tickets to pay with"
            )
        if c.network == "simulated":
            log.warning(
                "-network simulated: payments run against an in-process chain for tests and "
                "demos; its tickets are worth nothing and are never redeemed"
            )

    # --- what gateways ask for -------------------------------------------------------------

    def get_orchestrator(self, request: OrchestratorRequest) -> OrchestratorInfo:
        """GetOrchestrator: raises DiscoveryError with the text gateways see."""
        return self.discovery.get_orchestrator(request)

    def ping(self, value: bytes) -> bytes:
        """Ping: the reply value is the node's signature over the request value."""
        return self.sign(value)

    def end_transcoding_session(self, token: AuthToken | None) -> None:
        """Ends the session `token` names; raises AuthTokenError('Invalid auth token') if forged."""
        if token is None or not self.tokens.is_authentic(token):
            raise AuthTokenError("Invalid auth token")
        self.transcodes.end(token.session_id)
        if self.sessions.end(token.session_id):
            log.info("ended session %s", token.session_id)

    # --- what operators change --------------------------------------------------------------

    def set_max_sessions(self, value: MaxSessions) -> None:
        self.sessions.set_max_sessions(value)
        log.info("max sessions set to %s (limit now %d)", value, self.sessions.limit)

    def set_price(self, gateway: str, price: Price) -> None:
        """The base price for one gateway address, or for 'default'; raises ValueError for a
        currency the price feed cannot convert (or any currency, without a feed)."""
        self.prices.set_base_price(gateway, price)
        log.info("base price for %s set to %s", gateway, price)

    def status(self) -> dict[str, Any]:
        """A JSON-ready summary for operators."""
        advertised = self.capabilities.advertised()
        return {
            "network": self.config.network,
            "service_uri": self.config.service_uri,
            "version": advertised.version,
            "features": self.features,
            "hardware": {
                "cpu_model": self.hardware.cpu_model,
                "cpu_count": self.hardware.cpu_count,
                "gpus": [g.__dict__ for g in self.hardware.gpus],
            },
            "capabilities": {
                capability_name(c): n for c, n in sorted(advertised.capacities.items())
            },
            "not_advertised": {capability_name(c): why for c, why in self.codecs.missing.items()},
            "sessions": {
                "open": self.sessions.count,
                "max": self.sessions.max_sessions,
                "limit": self.sessions.limit,
                "max_pixel_rate": self.sessions.max_pixel_rate,
                "pixel_rates": self.transcodes.pixel_rates(),
                "encoders": {c.name: e for c, e in self.codecs.encoders.items()},
            },
            "prices": self.prices.describe(),
            "price_feed": self._describe_price_feed(),
            "payments": self.billing.describe() if self.billing is not None else None,
            "byoc": self.byoc.describe(),
            "inactive_settings": self.config.chain.inactive(self.config.network),
            "ai_models": self.ai.manager.describe(),
        }

    def _describe_price_feed(self) -> dict[str, Any] | None:
        if self.price_feed is None:
            return None
        rates = {c: str(r) for c, r in self.prices.rates.items()}
        return {**self.price_feed.describe(), "wei_per_currency": rates}

    def _record_quote(self, gateway: str, price: PriceInfo) -> None:
        self.metrics.set(
            "livepeer_transcoding_price",
            "Transcoding price per pixel",
            float(price.wei_per_unit),
            sender=gateway,
        )

    def _register_metrics(self) -> None:
        m = self.metrics
        m.set(
            "livepeer_versions",
            "Versions used by LivePeer node.",
            1,
            livepeerversion=self.capabilities.version,
            engine="lpengine",
        )
        m.gauge("livepeer_max_sessions_total", "Max Sessions", lambda: [({}, self.sessions.limit)])
        m.gauge(
            "livepeer_current_sessions_total",
            "Number of streams currently transcoding",
            lambda: [({}, self.sessions.count)],
        )
        m.gauge(
            "lpengine_capability_capacity",
            "Advertised capacity per capability.",
            lambda: [
                ({"capability": str(c), "name": capability_name(c)}, n)
                for c, n in self.capabilities.advertised().capacities.items()
            ],
        )
        if (watcher := self.price_feed) is not None:
            m.gauge(
                "lpengine_price_feed_price",
                "The price feed's current rate: QUOTE per BASE.",
                lambda: [({"pair": d.pair}, float(d.price))] if (d := watcher.current) else [],
            )
            m.gauge(
                "lpengine_price_feed_age_seconds",
                "Seconds since the price feed's current rate was published.",
                lambda: (
                    [({"pair": d.pair}, a)]
                    if (d := watcher.current) and (a := watcher.age_s()) is not None
                    else []
                ),
            )

    def close(self) -> None:
        """Stops the price feed, commits and closes the payments database; closing twice does
        nothing."""
        if not self._closed:
            if hasattr(self, "live"):
                self.live.stop_all()
            if hasattr(self, "byoc_streams"):
                self.byoc_streams.close()
            self.trickle.close_all()
        if not self._closed and self.price_feed is not None:
            self.price_feed.stop()
        if not self._closed:
            self.byoc.close()
        if not self._closed and hasattr(self, "ai"):
            self.ai.close()
        if not self._closed and self.billing is not None:
            self.billing.close()
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
