"""Replay protection: the sender nonces seen per recipientRand (protocol.md §7.5).

Nonces may arrive in any order; a repeated one is refused, and so is any nonce once a set holds
`max_nonces`. A set lives until the L1 block passes its params' expiration block. Sets are keyed
by recipientRandHash (one-to-one with the rand once validated) and persisted with the credits
they guard: the recipientRand secret outlives restarts, so replay protection must too. A set is
stored as one row (its nonces packed), rewritten at most once per commit however many tickets
it took in between.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from lpengine.pm.store import Job, Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS pmSenderNonces (
    recipientRandHash BLOB PRIMARY KEY,
    expirationBlock INTEGER NOT NULL,
    nonces BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_pmsendernonces_expiration ON pmSenderNonces(expirationBlock);
"""
_UPSERT = (
    "INSERT OR REPLACE INTO pmSenderNonces(recipientRandHash, expirationBlock, nonces) "
    "VALUES(?, ?, ?)"
)
_PRUNE = "DELETE FROM pmSenderNonces WHERE expirationBlock <= ?"

NEW = 0
SEEN = 1
TOO_MANY = 2


@dataclass(slots=True)
class _NonceSet:
    expiration_block: int
    seen: set[int] = field(default_factory=set)
    job: Job | None = None  # its UPSERT, built once (Store.submit_job)


class NonceSets:
    def __init__(self, store: Store, max_nonces: int) -> None:
        self._store = store
        self._max = max_nonces
        self._lock = threading.Lock()
        self._sets: dict[bytes, _NonceSet] = {}
        store.ensure_schema(SCHEMA)
        for rand_hash, expiration_block, packed in store.read(
            "SELECT recipientRandHash, expirationBlock, nonces FROM pmSenderNonces"
        ):
            nonces = struct.unpack(f">{len(packed) // 4}I", packed)
            self._sets[bytes(rand_hash)] = _NonceSet(expiration_block, set(nonces))

    def record(self, rand_hash: bytes, expiration_block: int, nonces: Sequence[int]) -> list[int]:
        """Checks and records `nonces` in order: NEW (now recorded), SEEN or TOO_MANY each."""
        codes: list[int] = []
        append = codes.append
        with self._lock:
            entry = self._sets.get(rand_hash)
            if entry is None:
                entry = self._sets[rand_hash] = _NonceSet(expiration_block)
            seen, room = entry.seen, self._max
            recorded = False
            for nonce in nonces:
                if nonce in seen:
                    append(SEEN)
                elif len(seen) >= room:
                    append(TOO_MANY)
                else:
                    seen.add(nonce)
                    append(NEW)
                    recorded = True
            if recorded:
                job = entry.job
                if job is None:
                    job = entry.job = (_UPSERT, lambda: self._row(rand_hash))
                self._store.submit_job(rand_hash, job)
        return codes

    def record_one(self, rand_hash: bytes, expiration_block: int, nonce: int) -> int:
        """`record` of a single nonce, without the lists: NEW, SEEN or TOO_MANY."""
        with self._lock:
            entry = self._sets.get(rand_hash)
            if entry is None:
                entry = self._sets[rand_hash] = _NonceSet(expiration_block)
            seen = entry.seen
            if nonce in seen:
                return SEEN
            if len(seen) >= self._max:
                return TOO_MANY
            seen.add(nonce)
            job = entry.job
            if job is None:
                job = entry.job = (_UPSERT, lambda: self._row(rand_hash))
            self._store.submit_job(rand_hash, job)
        return NEW

    def prune(self, block: int) -> int:
        """Drops the sets whose params expired at or before `block`; returns how many."""
        with self._lock:
            expired = [h for h, s in self._sets.items() if s.expiration_block <= block]
            for rand_hash in expired:
                del self._sets[rand_hash]
        if expired:
            self._store.submit(_PRUNE, (block,))
        return len(expired)

    def count(self, rand_hash: bytes) -> int:
        with self._lock:
            entry = self._sets.get(rand_hash)
            return len(entry.seen) if entry else 0

    def __len__(self) -> int:
        return len(self._sets)

    def _row(self, rand_hash: bytes) -> tuple[object, ...] | None:
        with self._lock:
            entry = self._sets.get(rand_hash)
            if entry is None:
                return None  # pruned since
            nonces = sorted(entry.seen)
            expiration_block = entry.expiration_block
        return (rand_hash, expiration_block, struct.pack(f">{len(nonces)}I", *nonces))
