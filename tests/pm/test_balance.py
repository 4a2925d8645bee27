"""Balances: exact credit and debit, pinned price, idle sweep, persistence."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from lpengine.pm.balance import Balances
from lpengine.pm.store import DB_FILE, Store

A, B = b"\x0a" * 20, b"\x0b" * 20


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_exact_credit_debit_and_pin(tmp_path: Path) -> None:
    store = Store(tmp_path / DB_FILE)
    b = Balances(store, ttl_s=600)
    assert b.balance(A, "s") is None
    third = Fraction(1, 3)
    assert b.credit(A, "s", third, pin=Fraction(5, 2)) == third
    assert b.credit(A, "s", third, pin=Fraction(9)) == Fraction(2, 3)
    assert b.fixed_price(A, "s") == Fraction(5, 2)  # the first payment's price stays
    assert b.debit(A, "s", Fraction(1)) == Fraction(-1, 3)  # may go negative, as in go
    assert b.balance(B, "s") is None and b.balance(A, "other") is None
    assert b.pin_price(A, "t", Fraction(7)) == Fraction(7)
    assert b.pin_price(A, "t", Fraction(8)) == Fraction(7)
    store.close()


def test_survives_a_restart(tmp_path: Path) -> None:
    store = Store(tmp_path / DB_FILE)
    b = Balances(store, ttl_s=600)
    huge = Fraction(2**300 + 1, 2**256 - 1)
    b.credit(A, "s", huge, pin=Fraction(1200, 7))
    b.credit(B, "27_model", Fraction(5))
    b.credit(B, "01234567", Fraction(6))  # a session id that looks like a number
    store.close()
    store = Store(tmp_path / DB_FILE)
    b = Balances(store, ttl_s=600)
    assert b.balance(A, "s") == huge
    assert b.fixed_price(A, "s") == Fraction(1200, 7)
    assert b.balance(B, "27_model") == 5 and b.fixed_price(B, "27_model") is None
    assert b.balance(B, "01234567") == 6
    store.close()


def test_idle_entries_are_swept_with_their_price(tmp_path: Path) -> None:
    clock = Clock()
    store = Store(tmp_path / DB_FILE)
    b = Balances(store, ttl_s=600, clock=clock)
    b.credit(A, "old", Fraction(1), pin=Fraction(3))
    clock.now += 500
    b.credit(A, "new", Fraction(1))
    clock.now += 200  # "old" idle 700 s, "new" 200 s
    assert b.sweep() == 1
    assert b.balance(A, "old") is None and b.fixed_price(A, "old") is None
    assert b.balance(A, "new") == 1
    b.debit(A, "new", Fraction(1))  # a debit is activity too
    clock.now += 599
    assert b.sweep() == 0
    store.close()
    store = Store(tmp_path / DB_FILE)
    assert len(Balances(store, ttl_s=600, clock=clock)) == 1  # the sweep was persisted
    store.close()
