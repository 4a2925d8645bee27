from __future__ import annotations

import time

import pytest

from lpengine.auth_token import AuthTokens
from lpengine.capabilities import Capability, CapabilitySet, ModelConstraint
from lpengine.capability_registry import CapabilityRegistry, ModelOffer, Offer
from lpengine.discovery import Discovery, DiscoveryError, HardwareInfo, OrchestratorRequest
from lpengine.hardware import GpuInfo
from lpengine.pricing import DEFAULT_GATEWAY, Price, PriceBook, PriceInfo
from lpengine.sessions import Sessions

LIVE, T2I = Capability.LIVE_VIDEO_TO_VIDEO, Capability.TEXT_TO_IMAGE
GPU = GpuInfo(0, "NVIDIA H100", "GPU-1234", 9, 0, 70 << 30, 80 << 30)
URI = "https://10.0.0.5:8935"


def discovery(prices: PriceBook | None = None, gpus=(), max_sessions=2) -> Discovery:
    registry = CapabilityRegistry(version="0.1.0")
    registry.publish("transcoding", Offer({0: 1, 1: 1, 12: 1}))
    return Discovery(
        registry=registry,
        prices=prices or PriceBook(),
        tokens=AuthTokens(bytes(32)),
        sessions=Sessions(max_sessions),
        service_uri=URI,
        gpus=gpus,
        nodes=("https://10.0.0.6:8935",),
    )


def live(model: str, free: int, busy: int = 0) -> Offer:
    return Offer({LIVE: free + busy}, models=(ModelOffer(LIVE, model, True, free, busy, "0.1"),))


def wants_live(model: str, ignore: bool = False) -> OrchestratorRequest:
    caps = CapabilitySet(capacities={LIVE: 1}, per_capability={LIVE: {model: ModelConstraint()}})
    return OrchestratorRequest(capabilities=caps, ignore_capacity_check=ignore)


def test_plain_quote_off_chain():
    d = discovery()
    info = d.get_orchestrator(OrchestratorRequest())
    assert info.transcoder == URI and info.nodes == ("https://10.0.0.6:8935",)
    assert info.address == bytes(20)  # go's off-chain address
    assert info.price_info is None and info.capabilities_prices == ()  # nothing priced: go's shape
    assert info.capabilities is d.registry.advertised()
    assert d.tokens.check(info.auth_token) == info.auth_token
    assert abs(info.auth_token.expiration - (time.time() + 1800)) < 5
    assert info.hardware == ()  # no GPUs


def test_sessions_at_the_limit_cap_discovery_unless_ignored():
    d = discovery(max_sessions=1)
    d.sessions.open("s1")
    with pytest.raises(DiscoveryError, match=r"^Invalid orchestrator request: OrchestratorCapped$"):
        d.get_orchestrator(OrchestratorRequest())
    assert d.get_orchestrator(OrchestratorRequest(ignore_capacity_check=True)).transcoder == URI
    d.sessions.end("s1")
    d.get_orchestrator(OrchestratorRequest())


def test_live_capacity_check():
    d = discovery()
    with pytest.raises(DiscoveryError, match="OrchestratorCapped"):
        d.get_orchestrator(wants_live("noop"))  # no live runner at all
    d.get_orchestrator(wants_live("noop", ignore=True))  # the SDK's request: never capped here
    d.registry.publish("live", live("noop", free=0, busy=2))
    with pytest.raises(DiscoveryError, match="OrchestratorCapped"):
        d.get_orchestrator(wants_live("noop"))
    d.registry.publish("live", live("noop", free=1, busy=2))  # the advertisement updates live
    info = d.get_orchestrator(wants_live("noop"))
    model = info.capabilities.per_capability[LIVE]["noop"]
    assert (model.capacity, model.capacity_in_use, model.warm) == (1, 2, True)


def test_prices_with_and_without_capabilities():
    gw = "0x" + "ab" * 20
    prices = PriceBook(
        Price.parse("100"),
        {gw: Price.parse("150")},
        {(DEFAULT_GATEWAY, LIVE, "noop"): Price.parse("7"), (gw, LIVE, "noop"): Price.parse("9")},
    )
    d = discovery(prices, gpus=(GPU,))
    d.registry.publish("live", live("noop", free=1))
    d.registry.publish("t2i", Offer({T2I: 1}, models=(ModelOffer(T2I, "sdxl", False, 1),)))
    plain = d.get_orchestrator(OrchestratorRequest())
    assert plain.price_info == PriceInfo(100, 1)
    assert plain.capabilities_prices == (
        PriceInfo(100, 1, T2I, "sdxl"),  # no price of its own: the base price
        PriceInfo(7, 1, LIVE, "noop"),
    )
    assert plain.hardware == (
        HardwareInfo("text-to-image", "sdxl", (GPU,)),
        HardwareInfo("live-video-to-video", "noop", (GPU,)),
    )
    mine = d.get_orchestrator(OrchestratorRequest(address=bytes.fromhex("ab" * 20)))
    assert mine.price_info == PriceInfo(150, 1) and mine.capabilities_prices[1].price_per_unit == 9
    asked = d.get_orchestrator(wants_live("noop"))
    assert asked.price_info == PriceInfo(7, 1)
    assert asked.capabilities_prices == () and asked.hardware == ()  # only for plain requests


def test_gpus_without_models_are_reported_as_the_node():
    info = discovery(gpus=(GPU,)).get_orchestrator(OrchestratorRequest())
    assert info.hardware == (HardwareInfo("", "", (GPU,)),)


def test_off_chain_signatures_are_not_checked():
    # go treats every signature as valid off-chain; on-chain checks: tests/test_billing.py.
    info = discovery().get_orchestrator(OrchestratorRequest(address=b"\x01" * 20, sig=b"bad"))
    assert info.ticket_params is None and info.address == bytes(20)
