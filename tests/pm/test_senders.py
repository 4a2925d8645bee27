"""Max float and sender validation (go-livepeer pm/sendermonitor.go)."""

from __future__ import annotations

import pytest
from eth_utils import to_checksum_address

from lpengine.pm import InMemoryChain
from lpengine.pm.senders import SenderMonitor

ORCH, SENDER = b"\x0a" * 20, b"\x0b" * 20


def test_max_float() -> None:
    chain = InMemoryChain(pool_size=4)
    chain.fund(SENDER, deposit_wei=100, reserve_wei=1000)
    chain.claimed[(SENDER, ORCH)] = 50
    sm = SenderMonitor(chain, ORCH)
    assert sm.max_float_wei(SENDER) == 1000 // 4 - 50
    sm.add_pending(SENDER, 40)  # deposit / pending = 2.5 < 3: pending counts
    assert sm.max_float_wei(SENDER) == 200 - 40
    sm.remove_pending(SENDER, 10)  # 100 / 30 >= 3: pending is ignored
    assert sm.max_float_wei(SENDER) == 200
    with pytest.raises(ValueError, match="insufficient pendingAmount"):
        sm.remove_pending(SENDER, 31)
    chain.pool_size = 0
    assert sm.max_float_wei(SENDER) == 0


def test_validate_sender() -> None:
    chain = InMemoryChain(round_number=10)
    sm = SenderMonitor(chain, ORCH)
    assert sm.validate_sender(SENDER) is None  # unknown senders read as zeros
    chain.fund(SENDER, 1, 1, withdraw_round=11)
    assert sm.validate_sender(SENDER) == (
        f"deposit and reserve for sender {to_checksum_address(SENDER)} is set to unlock soon"
    )
    chain.fund(SENDER, 1, 1, withdraw_round=12)
    assert sm.validate_sender(SENDER) is None
    chain.fail_sender_info = "rpc down"
    message = sm.validate_sender(SENDER)
    assert message is not None
    assert message == f"could not get sender info for {to_checksum_address(SENDER)}: rpc down"
