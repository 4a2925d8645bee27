"""Live payments: 27,648,000 units per second, at most every 5 s, remainders carried."""

from __future__ import annotations

from fractions import Fraction

from lpengine.live.payments import UNITS_PER_SECOND, LivePayments


def test_debits_the_time_since_the_last_charge_and_carries_the_fraction():
    now = [100.0]
    debits: list[int] = []
    balance = [Fraction(10**12)]

    def debit(units: int) -> Fraction:
        debits.append(units)
        balance[0] -= units
        return balance[0]

    p = LivePayments(debit, clock=lambda: now[0])
    assert UNITS_PER_SECOND == 1280 * 720 * 30 == 27_648_000
    now[0] += 4.9
    assert not p.due()
    now[0] += 0.1
    assert p.due()
    assert p.charge() == 10**12 - 5 * UNITS_PER_SECOND
    now[0] += 1 / 3  # 9,216,000 units exactly... plus a third of a unit carried below
    p.charge()
    now[0] += 1 / 3
    p.charge()
    assert debits[0] == 5 * UNITS_PER_SECOND
    assert abs(sum(debits[1:]) - round(UNITS_PER_SECOND * 2 / 3)) <= 1
    assert p.debited_units == sum(debits)
