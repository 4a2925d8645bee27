"""-initializeRound: the node initializes the current round when nobody has (go's
RoundInitializer, `eth/roundinitializer.go`).

A round that is not initialized has no block hash, so no ticket of it can be redeemed and
payments quote the previous round. Anyone may call `RoundsManager.initializeRound()`; go lets
only an active orchestrator do it (and picks one of the active set by the round's seed to
avoid races); lpengine does it whenever it is active and the round is still open, and treats
losing the race (`round already initialized`) as done. It runs in the redeemer's thread on
each new block, through the same nonce-managed transaction sender.
"""

from __future__ import annotations

import logging

from lpengine.chain.transactions import TxSender
from lpengine.chain.view import EthChainView
from lpengine.pm.address import checksum
from lpengine.pm.chainview import ChainError

log = logging.getLogger(__name__)

GAS_HEADROOM = 1.25
ALREADY = "round already initialized"


class RoundInitializer:
    def __init__(self, view: EthChainView, tx: TxSender) -> None:
        self.view = view
        self.tx = tx
        self.rounds = view.contracts.rounds_manager
        self.last_error: str | None = None

    def initialize_if_needed(self) -> int | None:
        """Initializes the current round if it is not; the round it initialized, else None.
        Never raises: a failure is logged and tried again on the next block."""
        try:
            return self._initialize()
        except ChainError as err:
            self.last_error = str(err)
            log.warning("round not initialized (tried again next block): %s", err)
            return None

    def _initialize(self) -> int | None:
        fns = self.rounds.functions
        try:
            if fns.currentRoundInitialized().call():
                return None
            round_number = int(fns.currentRound().call())
        except Exception as err:
            raise ChainError(f"RoundsManager: {err}") from err
        me = self.view.orchestrator
        if not self.view.is_active(me, round_number):
            log.info("round %d is not initialized; %s is not active, so leaves it to others",
                     round_number, checksum(me))  # fmt: skip
            return None
        data = bytes.fromhex(fns.initializeRound()._encode_transaction_data()[2:])
        try:
            gas = self.view.w3.eth.estimate_gas(
                {"from": self.tx.address, "to": self.rounds.address, "data": data}
            )
        except Exception as err:
            if ALREADY in str(err):
                return None  # someone else did, since we looked
            raise ChainError(f"initializeRound: {err}") from err
        price = max(self.view.network_gas_price_wei(), self.view.settings.min_gas_price_wei)
        self.tx.checked_price(price)  # GasPriceTooHigh (a ChainError) above -maxGasPrice
        mined, _ = self.tx.send(self.rounds.address, data, int(gas * GAS_HEADROOM))
        self.last_error = None
        log.info("initialized round %d: tx 0x%s", round_number, mined.hash.hex())
        return round_number
