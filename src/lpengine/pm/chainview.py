"""What payments read from the chain, behind one small interface.

The chain package implements `ChainView` against a node (with its own caching and block
watching); `InMemoryChain` is the implementation for tests and off-line use. Every method is
expected to be cheap: the receiver calls some of them once per payment.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol


class ChainError(Exception):
    """A chain read failed (RPC down, timeout, …)."""


@dataclass(frozen=True, slots=True)
class SenderInfo:
    """TicketBroker `getSenderInfo`: the sender's deposit, unlock round and reserve."""

    deposit_wei: int = 0
    withdraw_round: int = 0
    reserve_funds_remaining_wei: int = 0
    reserve_claimed_in_current_round_wei: int = 0


_UNKNOWN_SENDER = SenderInfo()


class ChainView(Protocol):
    def last_seen_l1_block(self) -> int:
        """The newest L1 block number the node has seen."""
        ...

    def last_initialized_round(self) -> int: ...

    def last_initialized_l1_block_hash(self) -> bytes:
        """The L1 block hash recorded for the last initialized round (32 bytes, may be zero)."""
        ...

    def pre_last_initialized_l1_block_hash(self) -> bytes:
        """The block hash of the round before it (used when the last one is zero)."""
        ...

    def transcoder_pool_size(self) -> int: ...

    def gas_price_wei(self) -> int:
        """The current gas price (0 when unknown)."""
        ...

    def sender_info(self, sender: bytes) -> SenderInfo:
        """Raises ChainError when the read fails; unknown senders read as all zeros."""
        ...

    def claimed_reserve(self, sender: bytes, claimant: bytes) -> int: ...

    def is_active(self, orchestrator: bytes, round_number: int) -> bool:
        """Whether `orchestrator` is in the active set of `round_number`."""
        ...


class InMemoryChain:
    """A ChainView whose state the caller sets; thread-safe; fails on demand for tests."""

    def __init__(
        self,
        *,
        block: int = 1,
        round_number: int = 1,
        round_block_hash: bytes = b"\x11" * 32,
        pre_round_block_hash: bytes = b"\x22" * 32,
        pool_size: int = 1,
        gas_price_wei: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self.block = block
        self.round_number = round_number
        self.round_block_hash = round_block_hash
        self.pre_round_block_hash = pre_round_block_hash
        self.pool_size = pool_size
        self.gas_price = gas_price_wei
        self.senders: dict[bytes, SenderInfo] = {}
        self.claimed: dict[tuple[bytes, bytes], int] = {}
        self.active: set[bytes] | None = None  # None: every orchestrator is active
        self.fail_sender_info: str | None = None  # message of the ChainError to raise

    def fund(
        self, sender: bytes, deposit_wei: int, reserve_wei: int, withdraw_round: int = 0
    ) -> None:
        with self._lock:
            self.senders[sender] = SenderInfo(deposit_wei, withdraw_round, reserve_wei, 0)

    def last_seen_l1_block(self) -> int:
        return self.block

    def last_initialized_round(self) -> int:
        return self.round_number

    def last_initialized_l1_block_hash(self) -> bytes:
        return self.round_block_hash

    def pre_last_initialized_l1_block_hash(self) -> bytes:
        return self.pre_round_block_hash

    def transcoder_pool_size(self) -> int:
        return self.pool_size

    def gas_price_wei(self) -> int:
        return self.gas_price

    def sender_info(self, sender: bytes) -> SenderInfo:
        if self.fail_sender_info is not None:
            raise ChainError(self.fail_sender_info)
        with self._lock:
            return self.senders.get(sender, _UNKNOWN_SENDER)

    def claimed_reserve(self, sender: bytes, claimant: bytes) -> int:
        with self._lock:
            return self.claimed.get((sender, claimant), 0)

    def is_active(self, orchestrator: bytes, round_number: int) -> bool:
        return self.active is None or orchestrator in self.active
