"""The simulated chain: blocks on the clock, rounds and their hashes, funds kept on disk."""

from __future__ import annotations

import json

import pytest

from lpengine.chain import open_chain
from lpengine.chain.simulated import (
    BLOCK_TIME_S,
    GAS_PRICE_WEI,
    ROUND_LENGTH_BLOCKS,
    STATE_FILE,
    SimulatedChain,
    round_block_hash,
)
from lpengine.pm import ChainView, SenderInfo
from lpengine.pm.keccak import keccak256

SENDER = b"\x5c" * 20


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_blocks_follow_the_clock_and_never_go_back(tmp_path):
    clock = Clock(1_000_000 * BLOCK_TIME_S + 5)
    chain = SimulatedChain(tmp_path, clock=clock)
    assert chain.last_seen_l1_block() == 1_000_000
    clock.now += BLOCK_TIME_S
    assert chain.last_seen_l1_block() == 1_000_001
    clock.now -= 10 * BLOCK_TIME_S  # the system clock set back
    assert chain.last_seen_l1_block() == 1_000_001
    assert chain.mine(40) == 1_000_040 - 9  # mined blocks add to the clock's
    clock.now += 10 * BLOCK_TIME_S
    assert chain.last_seen_l1_block() == 1_000_041


def test_rounds_and_their_block_hashes(tmp_path):
    chain = SimulatedChain(tmp_path, clock=Clock(3 * ROUND_LENGTH_BLOCKS * BLOCK_TIME_S))
    assert chain.last_initialized_round() == 3
    assert chain.last_initialized_l1_block_hash() == keccak256(
        b"lpengine simulated round" + (3).to_bytes(32, "big")
    )
    assert chain.pre_last_initialized_l1_block_hash() == round_block_hash(2)
    assert round_block_hash(2) != round_block_hash(3) and any(round_block_hash(0))
    assert chain.gas_price_wei() == GAS_PRICE_WEI and chain.transcoder_pool_size() == 1
    assert chain.is_active(b"\x01" * 20, 3) and chain.claimed_reserve(SENDER, b"\x01" * 20) == 0


def test_funds_are_set_by_the_operator_and_kept(tmp_path):
    chain: ChainView = open_chain("simulated", tmp_path)
    assert isinstance(chain, SimulatedChain)
    assert chain.sender_info(SENDER) == SenderInfo()  # unfunded: all zeros
    chain.fund(SENDER, 10**18, 5 * 10**17, withdraw_round=9)
    chain.mine(3)
    doc = json.loads((tmp_path / STATE_FILE).read_text())
    assert doc["mined_blocks"] == 3 and len(doc["senders"]) == 1
    again = SimulatedChain(tmp_path)  # a restart
    assert again.sender_info(SENDER) == SenderInfo(10**18, 9, 5 * 10**17, 0)
    assert again.describe()["mined_blocks"] == 3
    with pytest.raises(ValueError, match="20-byte"):
        chain.fund(b"\x01", 1, 1)
    with pytest.raises(ValueError, match=">= 0"):
        chain.fund(SENDER, -1, 1)
    with pytest.raises(ValueError, match="blocks"):
        chain.mine(0)
    with pytest.raises(ValueError, match="no chain view"):
        open_chain("offchain", tmp_path)
