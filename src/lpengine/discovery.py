"""Discovery and quotes: the engine's answer to GetOrchestrator (protocol.md §5).

With payments on (`billing`), a request must carry the gateway's signature over its address,
and the answer carries the node's address, the price with go's auto-adjust overhead and ticket
params for exactly that price. Off-chain (no billing) signatures are not checked (go treats
every one as valid there) and there are no ticket params; a price is quoted only when the
operator set one: go quotes nothing off-chain, but an operator who sets -pricePerUnit expects to
see it advertised (nothing is charged off-chain).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lpengine.auth_token import AuthToken, AuthTokens
from lpengine.capabilities import Capability, CapabilitySet, capability_name
from lpengine.capability_registry import CapabilityRegistry
from lpengine.hardware import GpuInfo
from lpengine.pm import ChainError, TicketParams
from lpengine.pm import PaymentError as TicketError
from lpengine.pricing import PriceBook, PriceInfo, gateway_key
from lpengine.sessions import Sessions

if TYPE_CHECKING:
    from lpengine.billing import Billing

log = logging.getLogger(__name__)

ZERO_ADDRESS = bytes(20)


@dataclass(frozen=True)
class OrchestratorRequest:
    """The plain form of `net.OrchestratorRequest`."""

    address: bytes = b""  # the gateway's ETH address; empty off-chain
    sig: bytes = b""
    capabilities: CapabilitySet | None = None  # None: a plain quote
    ignore_capacity_check: bool = False


@dataclass(frozen=True)
class HardwareInfo:
    pipeline: str
    model_id: str
    gpus: tuple[GpuInfo, ...]


@dataclass(frozen=True)
class OrchestratorInfo:
    """The plain form of `net.OrchestratorInfo`."""

    transcoder: str
    address: bytes
    capabilities: CapabilitySet
    auth_token: AuthToken
    price_info: PriceInfo | None = None
    capabilities_prices: tuple[PriceInfo, ...] = ()
    hardware: tuple[HardwareInfo, ...] = ()
    nodes: tuple[str, ...] = ()
    ticket_params: TicketParams | None = None  # absent off-chain


class DiscoveryError(Exception):
    """GetOrchestrator refused; the message is the text gateways see (as go's)."""


class QuoteError(DiscoveryError):
    """No price or ticket params for this sender (`insufficient sender reserve`, a chain read
    that failed): GetOrchestrator fails with the text, a paid route with a 500."""


@dataclass
class Discovery:
    registry: CapabilityRegistry
    prices: PriceBook
    tokens: AuthTokens
    sessions: Sessions
    service_uri: str
    gpus: tuple[GpuInfo, ...] = ()
    nodes: tuple[str, ...] = ()
    billing: Billing | None = None  # None: off-chain
    on_quote: Callable[[str, PriceInfo], None] | None = None

    def get_orchestrator(self, request: OrchestratorRequest) -> OrchestratorInfo:
        """Refuses with DiscoveryError, else quotes with a fresh auth token."""
        if self.billing is not None and not self.billing.verify_request(
            request.address, request.sig
        ):
            raise DiscoveryError("Invalid orchestrator request: orchestrator req sig check failed")
        if not request.ignore_capacity_check:
            if self.sessions.full():
                raise DiscoveryError("Invalid orchestrator request: OrchestratorCapped")
            if not self._live_capacity(request.capabilities):
                raise DiscoveryError("Invalid orchestrator request: OrchestratorCapped")
        return self.info(request.address, request.capabilities, self.tokens.issue())

    def info(
        self,
        address: bytes,
        wanted: CapabilitySet | None,
        auth_token: AuthToken,
        session: str = "",
        quote: bool = True,
    ) -> OrchestratorInfo:
        """An OrchestratorInfo for a gateway at `address` wanting `wanted` (None: a plain
        quote); `session` names a balance whose pinned price the quote keeps; without `quote`,
        no price and no ticket params (the operator's view)."""
        gateway = gateway_key(address)
        requested = wanted.requested_models() if wanted else ()
        advertised = self.registry.advertised()
        price_info, params = None, None
        if not quote:
            pass  # the operator's view: no sender to quote for
        elif self.billing is not None:
            try:
                price_info = self.billing.quote(address, requested, session)
                params = self.billing.ticket_params(address, price_info)
            except (TicketError, ChainError) as err:
                raise QuoteError(str(err)) from None
        elif self.prices.is_priced:
            price_info = self.prices.quote(gateway, requested)
        if price_info is not None and self.on_quote is not None:
            self.on_quote(gateway, price_info)
        plain = wanted is None
        return OrchestratorInfo(
            transcoder=self.service_uri,
            address=self.billing.address if self.billing is not None else ZERO_ADDRESS,
            capabilities=advertised,
            auth_token=auth_token,
            price_info=price_info,
            capabilities_prices=tuple(self._all_prices(gateway, advertised)) if plain else (),
            hardware=self._hardware(advertised) if plain else (),
            nodes=self.nodes,
            ticket_params=params,
        )

    def _all_prices(self, gateway: str, advertised: CapabilitySet) -> list[PriceInfo]:
        models = [
            (c, m)
            for c in sorted(advertised.per_capability)
            for m in sorted(advertised.per_capability[c])
        ]
        if not models or not (self.prices.is_priced or self.billing is not None):
            return []
        return self.prices.capability_prices(gateway, models)

    def _hardware(self, advertised: CapabilitySet) -> tuple[HardwareInfo, ...]:
        """The GPUs behind each advertised model (all of them: models share the node's GPUs)."""
        if not self.gpus:
            return ()
        entries = [
            HardwareInfo(capability_name(c).lower().replace(" ", "-"), m, self.gpus)
            for c in sorted(advertised.per_capability)
            for m in sorted(advertised.per_capability[c])
        ]
        return tuple(entries) or (HardwareInfo("", "", self.gpus),)

    def _live_capacity(self, wanted: CapabilitySet | None) -> bool:
        """Whether a request for live video models finds at least one with a free slot."""
        if wanted is None or Capability.LIVE_VIDEO_TO_VIDEO not in wanted.per_capability:
            return True
        offered = self.registry.advertised().per_capability.get(Capability.LIVE_VIDEO_TO_VIDEO, {})
        return any(
            (m := offered.get(model)) is not None and m.capacity > 0
            for model in wanted.per_capability[Capability.LIVE_VIDEO_TO_VIDEO]
        )
