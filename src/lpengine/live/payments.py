"""Live payments: a stream pays for the time it runs (protocol.md §7.6).

1280 x 720 x 30 = 27,648,000 units per second of stream, debited from the stream's own balance
(key = its manifest id) at most every 5 s, when input arrives; the fraction of a unit left over
is carried to the next debit. A balance that goes below zero stops the stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction

UNITS_PER_SECOND = 1280 * 720 * 30
PAYMENT_INTERVAL_S = 5.0


class LivePayments:
    """`debit(units)` takes units from the stream's balance and returns what is left (wei)."""

    def __init__(
        self,
        debit: Callable[[int], Fraction],
        interval_s: float = PAYMENT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._debit = debit
        self.interval_s = interval_s
        self._clock = clock
        self._last = clock()
        self._carry = Fraction(0)
        self.debited_units = 0
        self.balance: Fraction | None = None

    def due(self) -> bool:
        return self._clock() - self._last >= self.interval_s

    def charge(self) -> Fraction:
        """Debits the time since the last charge; returns the balance left."""
        now = self._clock()
        exact = Fraction(UNITS_PER_SECOND) * Fraction(now - self._last) + self._carry
        units = int(exact)
        self._carry = exact - units
        self._last = now
        self.debited_units += units
        self.balance = self._debit(units)
        return self.balance
