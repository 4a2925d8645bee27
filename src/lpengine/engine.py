"""Engine: the embeddable object every host (and the server) talks to.

It owns the machine's resources and everything a gateway can ask for; workloads (transcoding,
AI, live, BYOC) attach to it as they are built. A host process uses it directly:

    with lpengine.Engine() as engine:
        info = engine.get_orchestrator(OrchestratorRequest())
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from fractions import Fraction
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any

from lpengine import _native, hardware
from lpengine.ai.manager import ModelManager
from lpengine.ai.service import AIService
from lpengine.auth_token import AuthToken, AuthTokenError, AuthTokens
from lpengine.billing import Billing
from lpengine.byoc import Byoc
from lpengine.byoc.stream import ByocStreams
from lpengine.capabilities import capability_name
from lpengine.capability_registry import CapabilityRegistry
from lpengine.config import EngineConfig
from lpengine.discovery import Discovery, OrchestratorInfo, OrchestratorRequest, QuoteError
from lpengine.live.streams import LiveStreams
from lpengine.live.trickle import TrickleServer
from lpengine.media import codecs
from lpengine.media.profile import VideoProfile
from lpengine.media.session import OrchestratorBusy, TranscodeSessions
from lpengine.media.store import RenditionStore
from lpengine.media.transcode import Clip, TranscodeError, TranscodeResult, transcode_segment
from lpengine.metrics import Metrics
from lpengine.payment import (
    MAX_SEGMENT_DURATION_MS,
    CredentialsError,
    InternalError,
    Payment,
    PaymentError,
    SegmentCredentials,
)
from lpengine.pm.address import checksum, to_address
from lpengine.pm.errors import INSUFFICIENT_BALANCE
from lpengine.pm.store import StoreError
from lpengine.price_feed_watcher import PriceFeedWatcher
from lpengine.pricing import Price, PriceBook, PriceInfo
from lpengine.segment import (
    MISMATCHED_SEGMENTS,
    SegmentJob,
    SegmentResult,
    StoredRendition,
    rendition_key,
    rendition_url,
    signed_digest_message,
)
from lpengine.sessions import (
    DEFAULT_MAX_SESSIONS,
    SESSION_IDLE_S,
    MaxSessions,
    OrchestratorCapped,
    Sessions,
)

log = logging.getLogger(__name__)


def node_version() -> str:
    """The version advertised in Capabilities.version (gateways compare it to a minVersion)."""
    try:
        return version("lpengine")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0"


class Engine:
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
        self.transcodes = TranscodeSessions()  # per stream: segment queue, timeline, counts
        self.sessions.set_pixel_rate_limit(config.max_pixel_rate, self.transcodes.pixel_rates)
        self.trickle = TrickleServer()  # /ai/trickle/ channels (live, BYOC streams)
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
        self.live = LiveStreams(self.trickle, self.capabilities, config.service_uri)
        # NOTE: go-livepeer's default; the transcoding workload will report its measured capacity.
        self.sessions.set_auto_capacity("transcoding", DEFAULT_MAX_SESSIONS)
        # Batch AI: models from -aiModels in -aiModelsDir; warm ones load now (seconds to minutes).
        self.ai = AIService(
            ModelManager(config.models_dir, config.ai_models, self.capabilities),
            self.check_segment_credentials, self._take_payment, self.check_balance, self._debit,
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

    def sign(self, message: bytes) -> bytes:
        """The node's signature over keccak256(message) (EIP-191, 65 bytes).

        NOTE: off-chain there is no ETH key and go-livepeer signs with an empty signature
        (protocol.md §6).
        """
        return self.billing.sign(message) if self.billing is not None else b""

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

    def check_segment_credentials(
        self, creds: SegmentCredentials, sender: bytes = b""
    ) -> AuthToken:
        """The checks every paid call makes on Livepeer-Segment (protocol.md §4.2, steps 2-6);
        `sender` is the payment's, who must have signed the segment when payments are on."""
        if not 0 <= creds.duration_ms <= MAX_SEGMENT_DURATION_MS:
            raise CredentialsError("invalid duration")
        # NOTE: off-chain the signature is not checked (go treats every one as valid there).
        if self.billing is not None and not self.billing.verify_segment(creds, sender):
            raise CredentialsError("ErrSegSig")
        wanted = creds.capabilities
        if wanted is not None and not wanted.compatible_with(self.capabilities.advertised()):
            raise CredentialsError("incompatible capabilities")
        try:
            token = self.tokens.check(creds.auth_token)
            self.sessions.check_capacity(token.session_id)
        except (AuthTokenError, OrchestratorCapped) as err:
            raise CredentialsError(str(err)) from None
        return token

    def process_payment(self, payment: Payment, balance_key: str) -> None:
        """Credits `payment` to (its sender, `balance_key`); raises PaymentError with go's text
        if any ticket is refused (the good ones before it stay credited, as in go).

        Off-chain the only acceptable payment is the empty one the SDK sends; go would ignore
        tickets silently, lpengine refuses them so that a misconfigured gateway learns its
        tickets are worth nothing here. Raises StoreError when winning tickets cannot be
        written (nothing is acknowledged then).
        """
        if self.billing is None:
            if payment.is_empty:
                return
            raise PaymentError(
                f"payment refused for {balance_key or 'this session'}: this orchestrator runs "
                "off-chain and cannot redeem tickets; send an empty Livepeer-Payment header"
            )
        outcome = self.billing.process(payment, balance_key)
        m = self.metrics
        if outcome.credited_tickets:
            m.inc("lpengine_tickets_total", "Tickets received.", outcome.credited_tickets,
                  result="credited")  # fmt: skip
        if refused := outcome.tickets - outcome.credited_tickets:
            m.inc("lpengine_tickets_total", "Tickets received.", refused, result="refused")
        if outcome.winning_tickets:
            m.inc("lpengine_winning_tickets_total", "Winning tickets queued for redemption.",
                  outcome.winning_tickets)  # fmt: skip
        if outcome.error is not None:
            raise PaymentError(outcome.error)

    def check_balance(self, payment: Payment, balance_key: str) -> None:
        """go's step before paid work (protocol.md §4.2 step 9): with a non-zero expected price
        the balance must hold one ticket's EV, else PaymentError('Insufficient balance')."""
        price = payment.expected_price
        if self.billing is None or price is None or price.price_per_unit <= 0:
            return
        sender = to_address(payment.sender)
        if not self.billing.receiver.sufficient_balance(sender, balance_key):
            raise PaymentError(INSUFFICIENT_BALANCE)

    def receive_payment(self, payment: Payment, creds: SegmentCredentials) -> OrchestratorInfo:
        """POST /payment: checks the credentials, takes the payment into the balance of
        `SegData.manifestId`, returns refreshed info with new ticket params.

        Raises CredentialsError (403), PaymentError (400) or InternalError (500). The info
        keeps the gateway's original auth token: new tokens come only from GetOrchestrator.
        """
        token = self.check_segment_credentials(creds, payment.sender)
        info = self._refreshed_info(payment, creds, token)
        self._take_payment(payment, manifest_key(creds.manifest_id))
        return info

    def accept_segment(self, payment: Payment, creds: SegmentCredentials) -> SegmentJob:
        """POST /segment before its upload is read (protocol.md §4.2 steps 2-9): credentials,
        refreshed info, the payment into the balance of the session (`auth_token.session_id`),
        and with a price the balance check. Raises as `receive_payment`."""
        token = self.check_segment_credentials(creds, payment.sender)
        info = self._refreshed_info(payment, creds, token)
        self._take_payment(payment, token.session_id)
        self.check_balance(payment, token.session_id)
        return SegmentJob(creds, payment, token, info)

    def accept_live(self, payment: Payment, creds: SegmentCredentials, manifest_id: str) -> None:
        """POST /live-video-to-video steps 5-7 (protocol.md §4.6): credentials, the initial
        payment into the stream's balance (key: its manifest id), the balance check. Raises as
        `receive_payment`."""
        self.check_segment_credentials(creds, payment.sender)
        self._take_payment(payment, manifest_id)
        self.check_balance(payment, manifest_id)

    def live_debit(self, payment: Payment) -> Callable[[str, int], Fraction] | None:
        """How a live stream started with `payment` pays for its time; None when unpriced."""
        price, billing = payment.expected_price, self.billing
        if billing is None or price is None or price.price_per_unit <= 0:
            return None
        return lambda key, units: billing.debit(payment.sender, key, units, price)

    def run_segment(self, job: SegmentJob, segment: bytes) -> SegmentResult:
        """POST /segment after its upload passed `job.check_body` (steps 14-15): transcodes,
        stores the renditions for /stream/, debits the encoded pixels, signs the result.

        Never raises for the segment: failures are the result's `error` (LPMS's text). Blocking
        and CPU-heavy, as `transcode`.
        """
        seq, session, creds = job.creds.seq, job.session_id, job.creds
        try:
            self.transcodes.prune(self.sessions.is_open)
            self.sessions.open(session)  # NOTE: a new session over the limit fails here (go)
            if creds.profiles_error:
                raise ValueError(creds.profiles_error)
            clip = Clip(creds.clip_from_ms, creds.clip_to_ms)
            stream = self.transcodes.get(session)
            out = stream.transcode(segment, job.profiles, clip=clip, reset=creds.force_reinit)
            if len(out.renditions) != len(job.profiles):
                raise TranscodeError(MISMATCHED_SEGMENTS, f"{len(out.renditions)} outputs")
        except (OrchestratorCapped, OrchestratorBusy, TranscodeError, ValueError) as err:
            why = err.describe() if isinstance(err, TranscodeError) else str(err)
            log.warning("segment %d of session %s not transcoded: %s", seq, session, why)
            self.metrics.inc("lpengine_segments_total", "Segments transcoded.", result="failed")
            return SegmentResult(seq, job.info, error=str(err))
        stored = []
        for profile, rendition in zip(job.profiles, out.renditions, strict=True):
            self.renditions.put(rendition_key(session, profile, seq), rendition.data)
            url = rendition_url(self.config.service_uri, session, profile, seq)
            stored.append(StoredRendition(url, rendition.pixels))
        self._debit(job.payment, session, out.encoded_pixels)
        self.sessions.open(session)  # its last use is now: idle time counts from here
        self.metrics.inc("lpengine_segments_total", "Segments transcoded.", result="ok")
        sig = self.sign(signed_digest_message(out.renditions))
        return SegmentResult(seq, job.info, tuple(stored), sig)

    def _refreshed_info(
        self, payment: Payment, creds: SegmentCredentials, token: AuthToken
    ) -> OrchestratorInfo:
        """Info with fresh ticket params at the session's price, and the gateway's own token."""
        try:
            return self.discovery.info(
                payment.sender, creds.capabilities, token, session=token.session_id
            )
        except QuoteError as err:
            log.error("cannot refresh the orchestrator info for %s: %s", _who(payment), err)
            raise InternalError("Internal Server Error") from err

    def _take_payment(self, payment: Payment, balance_key: str) -> None:
        try:
            self.process_payment(payment, balance_key)
        except PaymentError as err:
            self.metrics.inc("lpengine_payments_total", "Payments received.", result="refused")
            log.warning("payment refused from %s: %s", _who(payment), err)
            raise
        except StoreError as err:
            log.error("payment from %s not taken: %s", _who(payment), err)
            raise InternalError("Internal Server Error") from err
        self.metrics.inc("lpengine_payments_total", "Payments received.", result="accepted")

    def _debit(self, payment: Payment, balance_key: str, pixels: int) -> None:
        """Work done, paid for at the session's price (go's DebitFees); nothing off-chain."""
        price = payment.expected_price
        if self.billing is None or price is None or price.price_per_unit <= 0 or pixels <= 0:
            return
        left = self.billing.debit(payment.sender, balance_key, pixels, price)
        log.debug("debited %d pixels from %s/%s: %s wei left", pixels, _who(payment),
                  balance_key, left)  # fmt: skip

    def balance(self, sender: bytes, balance_key: str) -> dict[str, str | float | None]:
        """A sender's credit under one balance key and the price it pinned (operators)."""
        if self.billing is None:
            raise ValueError("there are no balances off-chain (-network offchain)")
        return self.billing.describe_balance(sender, balance_key)

    def transcode(self, segment: bytes, profiles: Sequence[VideoProfile]) -> TranscodeResult:
        """One segment (MPEG-TS or MP4 bytes) to one rendition per profile, in their order.

        Blocking and CPU-heavy (decode, native resize, one encoder thread per rendition): call
        it from a worker thread (`run_in_threadpool`), never on an event loop. Raises ValueError
        naming the field for bad profiles, TranscodeError (LPMS's text) for a bad segment.
        """
        return transcode_segment(segment, profiles, encoders=self.codecs.encoders)

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
            self.ai.manager.close()
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


def manifest_key(manifest_id: bytes) -> str:
    """The balance key of a `SegData.manifestId` (go: the bytes as a string). Bytes that are not
    UTF-8 stay distinct (backslash escapes) and storable."""
    return manifest_id.decode("utf-8", "backslashreplace")


def _who(payment: Payment) -> str:
    return checksum(to_address(payment.sender)) if payment.sender else "an unnamed sender"
