"""-initializeRound against anvil: the node initializes a round nobody has, only while active,
and the redeemer's loop does it on its own on a new block."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lpengine.chain.connect import start_redeemer
from lpengine.chain.contracts import Contracts
from lpengine.chain.devnet import Anvil, Deployment, deploy
from lpengine.chain.networks import CHAINS, DEVNET, DEVNET_CONTROLLER
from lpengine.chain.rounds import RoundInitializer
from lpengine.chain.transactions import TxSender
from lpengine.chain.view import EthChainView, ViewSettings
from lpengine.pm import PaymentReceiver
from tests.chain.devnet_fixtures import ORCH, ORCH_KEY, anvil, needs_anvil

pytestmark = [needs_anvil, pytest.mark.net]
__all__ = ["anvil"]  # fixtures
ROUND_BLOCKS = 50


@pytest.fixture(scope="module")
def devnet(anvil: Anvil) -> Deployment:
    d = deploy(anvil.w3, round_length=ROUND_BLOCKS)
    d.activate(ORCH)
    return d


@pytest.fixture
def view(anvil: Anvil, devnet: Deployment) -> Iterator[EthChainView]:
    v = EthChainView(
        anvil.w3,
        CHAINS[DEVNET],
        Contracts.lookup(anvil.w3, DEVNET_CONTROLLER),
        orchestrator=bytes.fromhex(ORCH[2:]),
        settings=ViewSettings(poll_interval_s=0.05, max_backoff_s=0.2),
    )
    yield v
    v.close()


def next_round(anvil: Anvil, devnet: Deployment) -> int:
    """Mines into the next round (not initialized); its number."""
    anvil.mine(ROUND_BLOCKS - anvil.w3.eth.block_number % ROUND_BLOCKS)
    return int(devnet.rounds_manager.functions.currentRound().call())


def initializer(view: EthChainView) -> RoundInitializer:
    tx = TxSender(view.w3, ORCH_KEY, chain_id=31337, gas_price_wei=view.network_gas_price_wei)
    return RoundInitializer(view, tx)


def test_initializes_a_round_nobody_has(anvil: Anvil, devnet: Deployment, view, caplog) -> None:
    caplog.set_level(logging.INFO, logger="lpengine.chain.rounds")
    rounds = devnet.rounds_manager.functions
    init = initializer(view)
    assert init.initialize_if_needed() is None  # deploy initialized the current one
    round_number = next_round(anvil, devnet)
    view.poll()
    assert view.last_initialized_round() == round_number - 1
    assert init.initialize_if_needed() == round_number
    assert rounds.currentRoundInitialized().call()
    view.poll()
    assert view.last_initialized_round() == round_number
    assert view.last_initialized_l1_block_hash() != bytes(32)
    assert init.initialize_if_needed() is None  # once
    # Not active: left to others.
    devnet.activate(ORCH, False)
    round_number = next_round(anvil, devnet)
    view.poll()
    assert init.initialize_if_needed() is None
    assert not rounds.currentRoundInitialized().call()
    assert f"round {round_number} is not initialized; {ORCH} is not active" in caplog.text
    devnet.activate(ORCH)
    view.poll()
    # Another node was first: nothing to do, nothing sent.
    devnet.initialize_round()
    assert init.initialize_if_needed() is None
    assert init.last_error is None


def test_the_node_initializes_rounds_on_new_blocks(
    anvil: Anvil, devnet: Deployment, view, tmp_path: Path
) -> None:
    receiver = PaymentReceiver.open(tmp_path, recipient=view.orchestrator, chain=view)
    redeemer = start_redeemer(view, receiver, ORCH_KEY, initialize_round=True)
    view.start()
    try:
        round_number = next_round(anvil, devnet)
        deadline = time.monotonic() + 20
        while view.last_initialized_round() != round_number:  # the watcher's next refresh
            assert time.monotonic() < deadline, "round not initialized"
            time.sleep(0.02)
        assert devnet.rounds_manager.functions.currentRoundInitialized().call()
    finally:
        redeemer.close()
        view.close()
        receiver.close()
