"""Winning tickets awaiting redemption: go's `ticketQueue` table (common/db.go, protocol.md §7.9).

Rows are written by the receiver through the store's writer and committed (fsync'd) before the
payment that carried them is answered. The signature is the primary key, so a replayed winning
ticket is stored once. The redeemer (chain package) reads and marks rows here.
"""

from __future__ import annotations

from lpengine.pm import address
from lpengine.pm.store import Store
from lpengine.pm.ticket import SignedTicket, Ticket, minimal_bytes

SCHEMA = """
CREATE TABLE IF NOT EXISTS ticketQueue (
    createdAt DATETIME DEFAULT CURRENT_TIMESTAMP,
    sender STRING,
    recipient STRING,
    faceValue BLOB,
    winProb BLOB,
    senderNonce INTEGER,
    recipientRand BLOB,
    recipientRandHash STRING,
    sig BLOB PRIMARY KEY,
    creationRound int64,
    creationRoundBlockHash STRING,
    paramsExpirationBlock int64,
    redeemedAt DATETIME,
    txHash STRING
);
CREATE INDEX IF NOT EXISTS idx_ticketqueue_sender ON ticketQueue(sender);
"""
INSERT = (
    "INSERT OR IGNORE INTO ticketQueue(sender, recipient, faceValue, winProb, senderNonce, "
    "recipientRand, recipientRandHash, sig, creationRound, creationRoundBlockHash, "
    "paramsExpirationBlock) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_COLUMNS = (
    "sender, recipient, faceValue, winProb, senderNonce, recipientRand, recipientRandHash, sig, "
    "creationRound, creationRoundBlockHash, paramsExpirationBlock"
)
_PENDING = "WHERE sender = ? AND creationRound >= ? AND redeemedAt IS NULL AND txHash IS NULL"


def row(signed: SignedTicket) -> tuple[object, ...]:
    """The row go would insert: addresses EIP-55, hashes 0x-hex, big ints minimal bytes."""
    t = signed.ticket
    return (
        address.checksum(t.sender),
        address.checksum(t.recipient),
        minimal_bytes(t.face_value_wei),
        minimal_bytes(t.win_prob),
        t.sender_nonce,
        minimal_bytes(signed.recipient_rand),
        "0x" + t.recipient_rand_hash.hex(),
        signed.sig,
        t.creation_round,
        "0x" + t.creation_round_block_hash.hex(),
        t.params_expiration_block,
    )


def _from_row(r: tuple[object, ...]) -> SignedTicket:
    sender, recipient, fv, wp, nonce, rand, rand_hash, sig, rnd, block_hash, expiration = r
    assert isinstance(fv, bytes) and isinstance(wp, bytes) and isinstance(rand, bytes)
    assert isinstance(sender, str) and isinstance(recipient, str) and isinstance(sig, bytes)
    assert isinstance(rand_hash, str) and isinstance(block_hash, str)
    assert isinstance(nonce, int) and isinstance(rnd, int) and isinstance(expiration, int)
    ticket = Ticket(
        recipient=address.parse(recipient),
        sender=address.parse(sender),
        face_value_wei=int.from_bytes(fv, "big"),
        win_prob=int.from_bytes(wp, "big"),
        sender_nonce=nonce,
        recipient_rand_hash=bytes.fromhex(rand_hash[2:]),
        creation_round=rnd,
        creation_round_block_hash=bytes.fromhex(block_hash[2:]),
        params_expiration_block=expiration,
    )
    return SignedTicket(ticket, sig, int.from_bytes(rand, "big"))


class TicketQueue:
    def __init__(self, store: Store) -> None:
        self._store = store
        store.ensure_schema(SCHEMA)

    def add(self, tickets: list[SignedTicket]) -> None:
        """Queues the rows; the caller commits the store before acknowledging them."""
        self._store.submit_many(INSERT, [row(t) for t in tickets])

    def pending(self, sender: bytes, min_creation_round: int) -> list[SignedTicket]:
        """Unredeemed tickets of `sender` from `min_creation_round` on, oldest first."""
        rows = self._store.read(
            f"SELECT {_COLUMNS} FROM ticketQueue {_PENDING} ORDER BY createdAt, rowid",
            (address.checksum(sender), min_creation_round),
        )
        return [_from_row(r) for r in rows]

    def count(self, sender: bytes, min_creation_round: int) -> int:
        rows = self._store.read(
            f"SELECT count(sig) FROM ticketQueue {_PENDING}",
            (address.checksum(sender), min_creation_round),
        )
        return int(rows[0][0])

    def senders(self) -> list[bytes]:
        """Senders with at least one unredeemed ticket."""
        rows = self._store.read(
            "SELECT DISTINCT sender FROM ticketQueue WHERE redeemedAt IS NULL AND txHash IS NULL"
        )
        return [address.parse(r[0]) for r in rows]

    def mark_redeemed(self, sig: bytes, tx_hash: bytes | None) -> None:
        """Redeemed (or failed for good): never picked again. Durable on return."""
        self._store.submit(
            "UPDATE ticketQueue SET redeemedAt = datetime('now'), txHash = ? WHERE sig = ?",
            (None if tx_hash is None else "0x" + tx_hash.hex(), sig),
        )
        self._store.commit()

    def all(self) -> list[SignedTicket]:
        """Every stored ticket, redeemed or not, in arrival order."""
        rows = self._store.read(f"SELECT {_COLUMNS} FROM ticketQueue ORDER BY createdAt, rowid")
        return [_from_row(r) for r in rows]
