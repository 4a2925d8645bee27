"""Shared devnet fixtures: one anvil per test module, lpengine's contracts deployed on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account import Account

from lpengine.chain import tools
from lpengine.chain.devnet import Anvil, Deployment, deploy

needs_anvil = pytest.mark.skipif(
    tools.absent("anvil"), reason=f"anvil is not installed: {tools.INSTALL_HINT}"
)

# anvil's default funded accounts 1..3 (its mnemonic): the orchestrator and two gateways.
ORCH_KEY = bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
GATEWAY_KEY = bytes.fromhex("5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a")
GATEWAY2_KEY = bytes.fromhex("7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6")
ORCH = Account.from_key(ORCH_KEY).address


def fund(d: Deployment, key: bytes, deposit_wei: int, reserve_wei: int) -> None:
    """The gateway of `key` funds its deposit and reserve in TicketBroker."""
    fn = d.ticket_broker.functions.fundDepositAndReserve(deposit_wei, reserve_wei)
    d.transact(fn, key=key, value=deposit_wei + reserve_wei)


@pytest.fixture(scope="module")
def anvil() -> Iterator[Anvil]:
    with Anvil.start() as node:
        yield node


@pytest.fixture(scope="module")
def devnet(anvil: Anvil) -> Deployment:
    d = deploy(anvil.w3)
    d.activate(ORCH)
    return d
