"""Credit per (sender, balance key) in exact wei, the price pinned per key, idle sweep.

go keeps these in memory only (`core/accounting.go`); here every change is also queued to the
payments database (coalesced per key) so balances and pinned prices survive a restart. An entry
untouched by credit or debit for `ttl_s` is swept with its pinned price, as go does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from fractions import Fraction

from lpengine.pm import address
from lpengine.pm.store import Job, Store
from lpengine.pm.ticket import MAX_WIN_PROB

SCHEMA = """
CREATE TABLE IF NOT EXISTS pmBalances (
    sender TEXT NOT NULL,
    balanceKey TEXT NOT NULL,  -- NOTE: TEXT: a STRING column would turn "0123" into 123
    amountNum TEXT NOT NULL,
    amountDenom TEXT NOT NULL,
    priceNum TEXT,
    priceDenom TEXT,
    updatedAt REAL NOT NULL,
    PRIMARY KEY (sender, balanceKey)
);
"""
_UPSERT = (
    "INSERT OR REPLACE INTO pmBalances"
    "(sender, balanceKey, amountNum, amountDenom, priceNum, priceDenom, updatedAt) "
    "VALUES(?, ?, ?, ?, ?, ?, ?)"
)
_DELETE = "DELETE FROM pmBalances WHERE sender = ? AND balanceKey = ?"


class _Entry:
    """One balance. Credits of ticket EVs pile up as an int numerator over 2^256 - 1 (every EV
    has that denominator) and fold into the exact Fraction when the amount is read: adding
    Fractions costs two gcds of 256-bit ints, adding the numerators one int addition."""

    __slots__ = ("_amount", "ev_num", "job", "price", "updated_s")

    def __init__(self, amount_wei: Fraction, price: Fraction | None, updated_s: float) -> None:
        self._amount = amount_wei
        self.ev_num = 0
        """Credits not yet in the amount: ev_num / (2^256 - 1) wei."""
        self.price = price
        self.updated_s = updated_s
        self.job: Job | None = None

    @property
    def amount_wei(self) -> Fraction:
        if self.ev_num:
            self._amount += Fraction(self.ev_num, MAX_WIN_PROB)
            self.ev_num = 0
        return self._amount

    @amount_wei.setter
    def amount_wei(self, value: Fraction) -> None:
        self._amount, self.ev_num = value, 0


class Balances:
    def __init__(
        self, store: Store, *, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[bytes, str], _Entry] = {}
        store.ensure_schema(SCHEMA)
        for sender, key, num, den, pnum, pden, updated in store.read(
            "SELECT sender, balanceKey, amountNum, amountDenom, priceNum, priceDenom, updatedAt "
            "FROM pmBalances"
        ):
            price = Fraction(int(pnum), int(pden)) if pnum is not None else None
            self._entries[(address.parse(sender), key)] = _Entry(
                Fraction(int(num), int(den)), price, updated
            )

    def credit(
        self, sender: bytes, key: str, amount_wei: Fraction, *, pin: Fraction | None = None
    ) -> Fraction:
        """Adds `amount_wei`, pins `pin` as the key's price if none is; returns the balance."""
        return self._add(sender, key, amount_wei, pin)

    def credit_ev(
        self, sender: bytes, key: str, ev_num: int, *, pin: Fraction | None = None
    ) -> None:
        """`credit` of ev_num / (2^256 - 1) wei (tickets' EVs), without Fraction arithmetic."""
        entry_key = (sender, key)
        with self._lock:
            entry = self._entries.get(entry_key)
            if entry is None:
                entry = self._entries[entry_key] = _Entry(Fraction(0), pin, 0.0)
            elif entry.price is None:
                entry.price = pin
            entry.ev_num += ev_num
            entry.updated_s = self._clock()
            job = entry.job
            if job is None:
                job = entry.job = (_UPSERT, lambda: self._row(sender, key))
            self._store.submit_job(entry_key, job)  # NOTE: under the lock, as sweep's DELETE

    def debit(self, sender: bytes, key: str, amount_wei: Fraction) -> Fraction:
        """Subtracts `amount_wei` (the balance may go negative, as in go); returns the new one."""
        return self._add(sender, key, -amount_wei, None)

    def balance(self, sender: bytes, key: str) -> Fraction | None:
        """The balance in wei, or None when there is no entry (never paid, or swept)."""
        with self._lock:
            entry = self._entries.get((sender, key))
            return entry.amount_wei if entry else None

    def fixed_price(self, sender: bytes, key: str) -> Fraction | None:
        """The price pinned for this key by its first payment, if any."""
        with self._lock:
            entry = self._entries.get((sender, key))
            return entry.price if entry else None

    def pin_price(self, sender: bytes, key: str, price: Fraction) -> Fraction:
        """Pins `price` unless a price is pinned already; returns the pinned price."""
        with self._lock:
            entry = self._entries.get((sender, key))
            if entry is None:
                entry = self._entries[(sender, key)] = _Entry(Fraction(0), None, self._clock())
            if entry.price is None:
                entry.price = price
                self._persist(sender, key, entry)
            return entry.price

    def sweep(self, now_s: float | None = None) -> int:
        """Drops entries idle for more than the TTL; returns how many."""
        cutoff = (self._clock() if now_s is None else now_s) - self._ttl_s
        with self._lock:
            idle = [k for k, e in self._entries.items() if e.updated_s < cutoff]
            for sender, key in idle:
                del self._entries[(sender, key)]
                self._store.submit(_DELETE, (address.checksum(sender), key), key=(sender, key))
        return len(idle)

    def __len__(self) -> int:
        return len(self._entries)

    def _add(self, sender: bytes, key: str, amount_wei: Fraction, pin: Fraction | None) -> Fraction:
        with self._lock:
            entry = self._entries.get((sender, key))
            if entry is None:
                entry = self._entries[(sender, key)] = _Entry(amount_wei, pin, 0.0)
            else:
                entry.amount_wei += amount_wei
                if entry.price is None:
                    entry.price = pin
            entry.updated_s = self._clock()
            self._persist(sender, key, entry)
            return entry.amount_wei

    def _persist(self, sender: bytes, key: str, entry: _Entry) -> None:
        job = entry.job
        if job is None:
            job = entry.job = (_UPSERT, lambda: self._row(sender, key))
        self._store.submit_job((sender, key), job)

    def _row(self, sender: bytes, key: str) -> tuple[object, ...] | None:
        """The entry as stored, built by the store's writer when it writes."""
        with self._lock:
            entry = self._entries.get((sender, key))
            if entry is None:
                return None  # swept since; its DELETE is queued under the same key
            amount, price, updated_s = entry.amount_wei, entry.price, entry.updated_s
        return (
            address.checksum(sender),
            key,
            str(amount.numerator),
            str(amount.denominator),
            None if price is None else str(price.numerator),
            None if price is None else str(price.denominator),
            updated_s,
        )
