"""One transaction at a time from the node's key: own nonces, replacement, receipt wait.

go's rules (protocol.md §7.8, §9): wait `timeout_s` (5 min) for a receipt; then replace the
transaction (same nonce) at a gas price 11 % higher, up to `replacements` times (1), each with
its own wait. `on_signed` sees every signed transaction before it is broadcast, so a caller can
make it durable first and, after a crash, find it mined or broadcast it again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from math import ceil
from typing import TYPE_CHECKING, Any

from eth_account import Account
from web3 import Web3

from lpengine.pm.chainview import ChainError

if TYPE_CHECKING:
    from lpengine.chain.view import EthChainView

log = logging.getLogger(__name__)

TX_TIMEOUT_S = 300.0
REPLACEMENTS = 1
GAS_BUMP = Fraction(111, 100)
RECEIPT_POLL_S = 0.25


class TxFailed(ChainError):
    """The transaction was mined and reverted (go: `transaction failed`, not retried)."""

    def __init__(self, tx_hash: bytes) -> None:
        super().__init__(f"transaction failed: 0x{tx_hash.hex()} reverted")
        self.tx_hash = tx_hash


class GasPriceTooHigh(ChainError):
    """The network's gas price is above -maxGasPrice: nothing is sent until it falls."""


@dataclass(frozen=True)
class SignedTx:
    hash: bytes
    raw: bytes
    nonce: int
    gas_price_wei: int


def _no_op(tx: SignedTx) -> None:
    pass


class TxSender:
    def __init__(
        self,
        w3: Web3,
        private_key: bytes,
        *,
        chain_id: int,
        gas_price_wei: Callable[[], int],
        max_gas_price_wei: int = 0,
        timeout_s: float = TX_TIMEOUT_S,
        replacements: int = REPLACEMENTS,
        receipt_poll_s: float = RECEIPT_POLL_S,
    ) -> None:
        if timeout_s <= 0 or replacements < 0:
            raise ValueError("timeout_s: expected > 0; replacements: expected >= 0")
        self.w3 = w3
        self._account = Account.from_key(private_key)
        self.address = self._account.address
        self.chain_id = chain_id
        self._gas_price = gas_price_wei
        self.max_gas_price_wei = max_gas_price_wei
        self.timeout_s = timeout_s
        self.replacements = replacements
        self._poll_s = receipt_poll_s
        self._lock = threading.Lock()
        self._next_nonce = 0

    def send(
        self,
        to: str,
        data: bytes,
        gas: int,
        *,
        on_signed: Callable[[SignedTx], None] = _no_op,
        stop: threading.Event | None = None,
    ) -> tuple[SignedTx, Any]:
        """Sends and waits: (the mined transaction, its receipt). Raises TxFailed when it
        reverted, GasPriceTooHigh, or ChainError (RPC failure, no receipt in time)."""
        with self._lock:
            price = self.checked_price(self._gas_price())
            nonce = max(self._next_nonce, self._pending_nonce())
            sent: list[SignedTx] = []
            for attempt in range(self.replacements + 1):
                tx = self._sign(to, data, gas, nonce, price)
                on_signed(tx)
                self.broadcast(tx.raw, replacing=attempt > 0)
                sent.append(tx)
                found = self.wait(sent, self.timeout_s, stop)
                if found is not None:
                    self._next_nonce = nonce + 1
                    mined, receipt = found
                    if receipt["status"] != 1:
                        raise TxFailed(mined.hash)
                    return mined, receipt
                if attempt < self.replacements:
                    price = self.checked_price(max(ceil(price * GAS_BUMP), self._gas_price()))
                    log.warning(
                        "tx 0x%s: no receipt after %g s; replacing at %d wei gas price",
                        tx.hash.hex(), self.timeout_s, price,
                    )  # fmt: skip
            raise ChainError(
                f"no receipt for nonce {nonce} after {self.replacements + 1} transaction(s) "
                f"of {self.timeout_s:g} s each"
            )

    def broadcast(self, raw: bytes, *, replacing: bool = False) -> bool:
        """eth_sendRawTransaction; a transaction the node already has is not an error. False
        when, `replacing`, its nonce is already taken by a mined transaction."""
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Exception as err:
            message = str(err).lower()
            if "already known" in message or "already imported" in message:
                return True
            if replacing and "underpriced" in message:
                return True  # the one it replaces is still the better one: wait for either
            if replacing and "nonce too low" in message:
                return False
            raise ChainError(f"eth_sendRawTransaction: {err}") from err
        return True

    def resync(self) -> None:
        """Takes the next nonce from the chain again (after a reorg dropped sent transactions)."""
        with self._lock:
            self._next_nonce = 0

    def wait(
        self, sent: list[SignedTx], timeout_s: float, stop: threading.Event | None = None
    ) -> tuple[SignedTx, Any] | None:
        """The first of `sent` to be mined and its receipt, or None after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            for tx in sent:
                receipt = self.receipt(tx.hash)
                if receipt is not None:
                    return tx, receipt
            if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                return None
            time.sleep(self._poll_s)

    def receipt(self, tx_hash: bytes) -> Any:
        """The receipt of `tx_hash`, or None while it is not mined."""
        try:
            raw = self.w3.provider.make_request(
                "eth_getTransactionReceipt",  # type: ignore[arg-type]
                ["0x" + tx_hash.hex()],
            )
        except Exception as err:
            raise ChainError(f"eth_getTransactionReceipt: {err}") from err
        result = raw.get("result")
        if not result:
            return None
        return {"status": int(result["status"], 16), "blockNumber": int(result["blockNumber"], 16)}

    def checked_price(self, price: int) -> int:
        """`price`, or GasPriceTooHigh when it is above -maxGasPrice."""
        if self.max_gas_price_wei and price > self.max_gas_price_wei:
            raise GasPriceTooHigh(
                f"current gas price {price} wei exceeds maximum gas price "
                f"{self.max_gas_price_wei} wei (-maxGasPrice)"
            )
        return price

    def _pending_nonce(self) -> int:
        try:
            return int(self.w3.eth.get_transaction_count(self.address, "pending"))
        except Exception as err:
            raise ChainError(f"eth_getTransactionCount: {err}") from err

    def _sign(self, to: str, data: bytes, gas: int, nonce: int, price: int) -> SignedTx:
        tx = {
            "to": to,
            "data": data,
            "gas": gas,
            "gasPrice": price,
            "nonce": nonce,
            "value": 0,
            "chainId": self.chain_id,
        }
        signed = self._account.sign_transaction(tx)
        return SignedTx(bytes(signed.hash), bytes(signed.raw_transaction), nonce, price)


def node_sender(view: EthChainView, node_key: bytes, timeout_s: float = TX_TIMEOUT_S) -> TxSender:
    """The node's sender on `view`'s chain: the network's gas price, never under the view's
    minimum, and nothing sent while it is over the view's maximum."""
    return TxSender(
        view.w3,
        node_key,
        chain_id=view.network.chain_id,
        gas_price_wei=lambda: max(view.network_gas_price_wei(), view.settings.min_gas_price_wei),
        max_gas_price_wei=view.settings.max_gas_price_wei,
        timeout_s=timeout_s,
    )
