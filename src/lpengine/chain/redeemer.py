"""Winning tickets out of the durable queue and into TicketBroker (protocol.md §7.8).

On every new block, per sender with queued tickets (creationRound ≥ currentRound - 2, oldest
first), while this node is active: a ticket is redeemed only once its params' expiration block
has passed (revealing recipientRand earlier would let the sender predict wins). Before sending:
`usedTickets` (set → `ticket already used`, done), gas price within -maxGasPrice, and both the
sender's available funds and the face value above the transaction cost. The face value counts as
pending (out of the sender's max float) until the receipt.

Non-retryable errors mark the ticket done (go's list: `ticket already used`, `transaction
failed`, `ticket creationRound does not have a block hash`); anything else is retried next block.

Restart safety: every signed transaction is committed to `redemptionTx` before it is broadcast.
After a crash, `recover` finds each one mined (the ticket is marked with its hash) or, when no
copy was mined and the ticket is still unused, broadcasts it again with its original nonce. The
contract's usedTickets makes a second redemption impossible; the journal makes it not even tried.

Reorgs: a mined redemption keeps its journal row until its block is `confirmations` deep. Each
pass looks for its receipt: gone (the block was reorged away, and the transaction with it) →
the ticket is unmarked and the same signed transaction is broadcast again (same nonce: no gap);
if that cannot be, the ticket goes back to the queue, whose path checks usedTickets first.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from lpengine.chain.contracts import ticket_struct
from lpengine.chain.rounds import RoundInitializer
from lpengine.chain.transactions import GasPriceTooHigh, SignedTx, TxFailed, TxSender
from lpengine.chain.view import EthChainView
from lpengine.pm.address import checksum
from lpengine.pm.chainview import ChainError
from lpengine.pm.queue import TicketQueue
from lpengine.pm.senders import SenderMonitor
from lpengine.pm.store import Store
from lpengine.pm.ticket import SignedTicket

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS redemptionTx (
    txHash STRING PRIMARY KEY,
    sig BLOB NOT NULL,
    nonce INTEGER NOT NULL,
    rawTx BLOB NOT NULL,
    sentAt DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS idx_redemptiontx_sig ON redemptionTx(sig);
"""
NON_RETRYABLE = (
    "ticket already used",
    "transaction failed",
    "ticket creationRound does not have a block hash",
)
ROUNDS_BACK = 2
"""Tickets of rounds older than currentRound - 2 can no longer be redeemed."""
GAS_HEADROOM = 1.25
"""Gas limit = estimate * this (the estimate is exact on the state it saw)."""
CONFIRMATIONS = 12
"""Blocks (the mining one included) after which a redemption is final: 3 s on Arbitrum One."""

REDEEMED, DONE, RETRY, WAITING = "redeemed", "done", "retry", "waiting"


@dataclass(frozen=True)
class Redemption:
    """What happened to one ticket: redeemed (tx_hash), done without redemption (a
    non-retryable reason), retry (next block) or waiting (its params have not expired)."""

    sig: bytes
    outcome: str
    reason: str = ""
    tx_hash: bytes | None = None


class Redeemer:
    def __init__(
        self,
        *,
        view: EthChainView,
        queue: TicketQueue,
        store: Store,
        senders: SenderMonitor,
        tx: TxSender,
        redeem_gas: int,
        confirmations: int = CONFIRMATIONS,
        rounds: RoundInitializer | None = None,
    ) -> None:
        if confirmations < 1:
            raise ValueError(f"confirmations: expected >= 1, got {confirmations}")
        self.confirmations = confirmations
        self.rounds = rounds
        self.view = view
        self.queue = queue
        self.store = store
        self.senders = senders
        self.tx = tx
        self.redeem_gas = redeem_gas
        self.broker = view.contracts.ticket_broker
        store.ensure_schema(SCHEMA)
        self._lock = threading.Lock()  # one pass at a time
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the loop -----------------------------------------------------------------------

    def start(self) -> None:
        self.view.subscribe(lambda block: self._wake.set())
        self._wake.set()  # a first pass at start: what a previous run left
        self._thread = threading.Thread(target=self._run, name="lpengine-redeemer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            if self.rounds is not None:
                self.rounds.initialize_if_needed()  # first: tickets need an initialized round
            try:
                self.recover()
                self.redeem_due()
            except Exception:  # the next block tries again; a dead loop would strand tickets
                log.exception("redemption pass failed")

    # --- one pass -----------------------------------------------------------------------

    def redeem_due(self) -> list[Redemption]:
        """One pass over the queue at the current block; what happened to each ticket."""
        with self._lock:
            block = self.view.last_seen_l1_block()
            round_number = self.view.last_initialized_round()
            if not self.view.is_active(self.view.orchestrator, round_number):
                if self.queue.senders():
                    log.info("not redeeming: %s is not active in round %d",
                             checksum(self.view.orchestrator), round_number)  # fmt: skip
                return []
            done: list[Redemption] = []
            for sender in self.queue.senders():
                for signed in self.queue.pending(sender, max(round_number - ROUNDS_BACK, 0)):
                    if self._stop.is_set():
                        return done
                    if signed.ticket.params_expiration_block > block:
                        done.append(Redemption(signed.sig, WAITING, "params not expired yet"))
                        continue
                    done.append(self._redeem(signed))
            return done

    def _redeem(self, signed: SignedTicket) -> Redemption:
        t = signed.ticket
        try:
            if self._used(t.hash()):
                return self._done(signed, "ticket already used", None)
            # NOTE: above -maxGasPrice nothing is sent, so that is the reason, not the cost.
            gas_price = max(self.view.network_gas_price_wei(), self.view.settings.min_gas_price_wei)
            tx_cost = self.redeem_gas * self.tx.checked_price(gas_price)
            info = self.view.sender_info(t.sender)
            round_number = self.view.last_initialized_round()
            if info.withdraw_round and info.withdraw_round <= round_number:
                # NOTE: retried, not dropped: the sender may still cancel its unlock.
                return self._retry(
                    signed, f"sender is unlocked (withdrawRound {info.withdraw_round}, round "
                    f"{round_number}): TicketBroker refuses its tickets",
                )  # fmt: skip
            available = (
                self.senders.reserve_alloc_wei(t.sender)
                + info.deposit_wei
                - self.senders.pending_wei(t.sender)
            )
            if available <= tx_cost:
                return self._retry(signed, "insufficient sender funds for redeem tx cost")
            if t.face_value_wei <= tx_cost:
                return self._retry(signed, "insufficient ticket face value for redeem tx cost")
            fn = self.broker.functions.redeemWinningTicket(
                ticket_struct(signed), signed.sig, signed.recipient_rand
            )
            data = bytes.fromhex(fn._encode_transaction_data()[2:])
            gas = self._estimate(data)
            self.senders.add_pending(t.sender, t.face_value_wei)
            try:
                mined, _ = self.tx.send(
                    self.broker.address, data, gas, on_signed=self._journal(signed), stop=self._stop
                )
            finally:
                self.senders.remove_pending(t.sender, t.face_value_wei)
                self.view.forget_sender(t.sender)
        except TxFailed as err:
            return self._done(signed, str(err), err.tx_hash)
        except GasPriceTooHigh as err:
            return self._retry(signed, str(err))
        except ChainError as err:
            if any(reason in str(err) for reason in NON_RETRYABLE):
                return self._done(signed, str(err), None)
            return self._retry(signed, str(err))
        self._mark(signed.sig, mined.hash)
        log.info("redeemed winning ticket (sender %s, face value %d wei): tx 0x%s",
                 checksum(t.sender), t.face_value_wei, mined.hash.hex())  # fmt: skip
        return Redemption(signed.sig, REDEEMED, tx_hash=mined.hash)

    # --- after a crash ------------------------------------------------------------------

    def recover(self) -> list[Redemption]:
        """Settles the transactions a previous run (or pass) signed but did not see through,
        and redoes the mined ones a reorg removed before they were `confirmations` deep."""
        rows = self.store.read(
            "SELECT r.sig, r.txHash, r.rawTx, q.redeemedAt, q.txHash FROM redemptionTx r "
            "LEFT JOIN ticketQueue q ON q.sig = r.sig ORDER BY r.nonce, r.sentAt"
        )
        by_sig: dict[bytes, list[tuple[str, bytes]]] = {}
        marked: dict[bytes, str | None] = {}
        for sig, tx_hash, raw, redeemed_at, marked_hash in rows:
            by_sig.setdefault(sig, []).append((tx_hash, raw))
            if redeemed_at is not None:
                marked[sig] = marked_hash
        settled = []
        for sig, sent in by_sig.items():
            if sig in marked:
                mined = [(h, raw) for h, raw in sent if h == marked[sig]]
                if not mined:  # marked without a journaled tx (crash in between): final
                    self._forget(sig)
                elif self._still_mined(sig, mined[0][0]):
                    continue
                else:
                    settled.append(self._settle(sig, mined))
                continue
            settled.append(self._settle(sig, sent))
        return settled

    def _still_mined(self, sig: bytes, tx_hash: str) -> bool:
        """Whether the marked redemption `tx_hash` is still on chain; forgets its journal row
        once it is final, and unmarks the ticket when a reorg took it away."""
        receipt = self.tx.receipt(bytes.fromhex(tx_hash[2:]))
        if receipt is not None:
            depth = self.view.last_seen_block() - receipt["blockNumber"] + 1
            if depth >= self.confirmations:
                self._forget(sig)
            return True
        log.warning("redemption tx %s was removed by a reorg: redoing it", tx_hash)
        self.store.submit(
            "UPDATE ticketQueue SET redeemedAt = NULL, txHash = NULL WHERE sig = ?", (sig,)
        )
        self.store.commit()
        self.tx.resync()  # NOTE: the chain's nonce went back with the block
        return False

    def _settle(self, sig: bytes, sent: list[tuple[str, bytes]]) -> Redemption:
        for tx_hash, _ in sent:
            receipt = self.tx.receipt(bytes.fromhex(tx_hash[2:]))
            if receipt is not None:
                ok = receipt["status"] == 1
                log.info("recovered redemption tx %s: %s", tx_hash, "mined" if ok else "reverted")
                self._mark(sig, bytes.fromhex(tx_hash[2:]))
                outcome = REDEEMED if ok else DONE
                return Redemption(sig, outcome, "recovered", bytes.fromhex(tx_hash[2:]))
        # None mined. The newest copy is broadcast again so its nonce is not left as a gap; if
        # the node refuses it, the ticket goes back to the queue's path (usedTickets first).
        tx_hash, raw = sent[-1]
        try:
            superseded = not self.tx.broadcast(raw, replacing=True)
        except ChainError as err:
            log.warning("redemption tx %s could not be broadcast again: %s", tx_hash, err)
            superseded = True
        found = self.tx.wait(
            [SignedTx(bytes.fromhex(h[2:]), r, 0, 0) for h, r in sent],
            0.0 if superseded else self.tx.timeout_s,
            self._stop,
        )
        if found is not None:
            mined, receipt = found
            self._mark(sig, mined.hash)
            outcome = REDEEMED if receipt["status"] == 1 else DONE
            return Redemption(sig, outcome, "recovered", mined.hash)
        self._forget(sig)
        self.tx.resync()
        return Redemption(sig, RETRY, "recovered: not mined; back in the queue")

    # --- bookkeeping --------------------------------------------------------------------

    def _journal(self, signed: SignedTicket) -> Any:
        def record(tx: SignedTx) -> None:
            self.store.submit(
                "INSERT OR REPLACE INTO redemptionTx(txHash, sig, nonce, rawTx) VALUES(?, ?, ?, ?)",
                ("0x" + tx.hash.hex(), signed.sig, tx.nonce, tx.raw),
            )
            self.store.commit()  # NOTE: durable before broadcast, or a crash could lose it

        return record

    def _mark(self, sig: bytes, tx_hash: bytes | None) -> None:
        """Marks the ticket; the journal keeps only the mined tx, until it is final."""
        self.store.submit(
            "DELETE FROM redemptionTx WHERE sig = ? AND txHash IS NOT ?",
            (sig, None if tx_hash is None else "0x" + tx_hash.hex()),
        )
        self.queue.mark_redeemed(sig, tx_hash)  # durable on return (commits both)

    def _forget(self, sig: bytes) -> None:
        self.store.submit("DELETE FROM redemptionTx WHERE sig = ?", (sig,))
        self.store.commit()

    def _done(self, signed: SignedTicket, reason: str, tx_hash: bytes | None) -> Redemption:
        log.warning("winning ticket of %s not redeemed, for good: %s",
                    checksum(signed.ticket.sender), reason)  # fmt: skip
        self._mark(signed.sig, tx_hash)
        return Redemption(signed.sig, DONE, reason, tx_hash)

    def _retry(self, signed: SignedTicket, reason: str) -> Redemption:
        log.warning("winning ticket of %s not redeemed yet (retried next block): %s",
                    checksum(signed.ticket.sender), reason)  # fmt: skip
        return Redemption(signed.sig, RETRY, reason)

    def _used(self, ticket_hash: bytes) -> bool:
        try:
            return bool(self.broker.functions.usedTickets(ticket_hash).call())
        except Exception as err:
            raise ChainError(f"usedTickets: {err}") from err

    def _estimate(self, data: bytes) -> int:
        try:
            gas = self.view.w3.eth.estimate_gas(
                {"from": self.tx.address, "to": self.broker.address, "data": data}
            )
        except Exception as err:
            raise ChainError(f"redeemWinningTicket: {err}") from err
        return int(gas * GAS_HEADROOM)
