"""Payments fixtures: an in-memory chain, an orchestrator, a gateway, receivers on tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from lpengine.pm import InMemoryChain, PaymentConfig, PaymentReceiver, PriceInfo, Signer
from tests.pm.gateway import Gateway

ORCH_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
GATEWAY_KEY = bytes.fromhex("b25c7db31feed9122727bf0939dc769a96564b2de4c4726d035b36ecf1e5b364")
PRICE = PriceInfo(1200, 3)  # a fraction that reduces (400/1), as real quotes do
EV_WEI = PaymentConfig().ev_wei


@pytest.fixture
def orchestrator() -> Signer:
    return Signer(ORCH_KEY)


@pytest.fixture
def gateway() -> Gateway:
    return Gateway(GATEWAY_KEY)


@pytest.fixture
def chain(gateway: Gateway) -> InMemoryChain:
    chain = InMemoryChain(block=1000, round_number=7)
    chain.fund(gateway.address, deposit_wei=10**20, reserve_wei=10**20)
    return chain


ReceiverFactory = Callable[..., PaymentReceiver]


@pytest.fixture
def open_receiver(
    tmp_path: Path, orchestrator: Signer, chain: InMemoryChain
) -> Iterator[ReceiverFactory]:
    """Opens receivers on one data dir (a reopen is a restart); closes them all at the end."""
    opened: list[PaymentReceiver] = []

    def open_(config: PaymentConfig | None = None, **kw: object) -> PaymentReceiver:
        r = PaymentReceiver.open(
            tmp_path / "data", recipient=orchestrator.address, chain=chain, config=config, **kw
        )  # type: ignore[arg-type]
        opened.append(r)
        return r

    yield open_
    for r in opened:
        r.close()  # NOTE: closing twice is a no-op


@pytest.fixture
def receiver(open_receiver: ReceiverFactory, chain: InMemoryChain) -> PaymentReceiver:
    """Tickets almost never win (gas at 1 gwei: faceValue = 1.2e17 wei, winProb ~ 7e-8)."""
    chain.gas_price = 10**9
    return open_receiver()


@pytest.fixture
def winning_receiver(open_receiver: ReceiverFactory, chain: InMemoryChain) -> PaymentReceiver:
    """faceValue = EV, so winProb = 2^256 - 1: every ticket wins (gas is free)."""
    chain.gas_price = 0
    return open_receiver(PaymentConfig(max_face_value_wei=EV_WEI))


def price_fraction() -> Fraction:
    return PRICE.as_fraction()
