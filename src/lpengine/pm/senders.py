"""Remote senders: how much of a sender's reserve this orchestrator may count on (max float).

reserveAlloc = (fundsRemaining + claimedInCurrentRound) / activePoolSize - claimedReserve(sender, O)
maxFloat     = reserveAlloc - pending, or reserveAlloc when deposit / pending ≥ 3
where `pending` is the face value of this node's redemptions still in flight (the redeemer adds
and removes it). go: `pm/sendermonitor.go`.
"""

from __future__ import annotations

import threading
from fractions import Fraction

from lpengine.pm import address
from lpengine.pm.chainview import ChainError, ChainView

MIN_DEPOSIT_PENDING_RATIO = 3


class SenderMonitor:
    def __init__(self, chain: ChainView, claimant: bytes) -> None:
        self._chain = chain
        self._claimant = claimant
        self._lock = threading.Lock()
        self._pending_wei: dict[bytes, int] = {}

    def add_pending(self, sender: bytes, amount_wei: int) -> None:
        """A redemption of `amount_wei` face value was sent: it no longer counts as float."""
        with self._lock:
            self._pending_wei[sender] = self._pending_wei.get(sender, 0) + amount_wei

    def remove_pending(self, sender: bytes, amount_wei: int) -> None:
        """That redemption confirmed or failed."""
        with self._lock:
            left = self._pending_wei.get(sender, 0) - amount_wei
            if left < 0:
                raise ValueError("cannot subtract from insufficient pendingAmount")
            if left:
                self._pending_wei[sender] = left
            else:
                self._pending_wei.pop(sender, None)

    def pending_wei(self, sender: bytes) -> int:
        with self._lock:
            return self._pending_wei.get(sender, 0)

    def reserve_alloc_wei(self, sender: bytes) -> int:
        info = self._chain.sender_info(sender)
        claimed = self._chain.claimed_reserve(sender, self._claimant)
        pool_size = self._chain.transcoder_pool_size()
        if pool_size == 0:
            return 0
        reserve = info.reserve_funds_remaining_wei + info.reserve_claimed_in_current_round_wei
        return reserve // pool_size - claimed

    def max_float_wei(self, sender: bytes) -> int:
        """Raises ChainError when the chain cannot be read."""
        alloc = self.reserve_alloc_wei(sender)
        pending = self.pending_wei(sender)
        if pending == 0:
            return alloc
        deposit = self._chain.sender_info(sender).deposit_wei
        if Fraction(deposit, pending) >= MIN_DEPOSIT_PENDING_RATIO:
            return alloc
        return alloc - pending

    def validate_sender(self, sender: bytes, round_number: int | None = None) -> str | None:
        """go's `ValidateSender`: an error message (fatal for the payment) or None.

        round_number: the last initialized round when the caller has just read it."""
        try:
            info = self._chain.sender_info(sender)
        except ChainError as e:
            return f"could not get sender info for {address.checksum(sender)}: {e}"
        if round_number is None:
            round_number = self._chain.last_initialized_round()
        max_withdraw_round = round_number + 1
        if info.withdraw_round != 0 and info.withdraw_round <= max_withdraw_round:
            return (
                f"deposit and reserve for sender {address.checksum(sender)} is set to unlock soon"
            )
        return None
