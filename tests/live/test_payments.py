"""Live payments: 27,648,000 units per second, at most every 5 s, remainders carried."""

from __future__ import annotations

from fractions import Fraction

import pytest

from lpengine.live.payments import UNITS_PER_SECOND, LivePayments, switch_price_check
from lpengine.pricing import Price, PriceBook


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


def test_a_stream_may_switch_only_to_models_no_dearer_for_its_gateway():
    gw = "0x" + "ab" * 20
    prices = PriceBook(
        Price(Fraction(3)),
        per_gateway={gw: Price(Fraction(2))},
        per_capability={
            ("default", 35, "sd-turbo"): Price(Fraction(5)),
            (gw, 35, "sd-turbo"): Price(Fraction(2)),  # this gateway's deal
            ("default", 35, "sdxl"): Price(Fraction(9)),
        },
    )
    check = switch_price_check(prices, gw, "noop")  # noop: the gateway's base price, 2
    check("sd-turbo")  # 2: the same
    check("another-noop")  # no price of its own: the base price
    with pytest.raises(ValueError, match="sdxl costs 9 wei per unit, more than the 2 this"):
        check("sdxl")
    other = switch_price_check(prices, "default", "noop")  # another gateway: base price 3
    with pytest.raises(ValueError, match="sd-turbo costs 5 wei per unit"):
        other("sd-turbo")
    prices.set_capability_price("default", 35, "sdxl", Price(Fraction(1)))  # the operator
    check("sdxl")  # price changes count from then on
