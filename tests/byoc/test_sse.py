"""SSE relay: go's balance formatting, line splitting, interval debits, the insufficient-balance
event and the deadline (protocol.md §4.8)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from fractions import Fraction

import pytest

from lpengine.byoc.sse import INSUFFICIENT, float_string, lines, relay


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (Fraction(0), 0, "0"),
        (Fraction(0), 3, "0.000"),
        (Fraction(5, 2), 0, "3"),  # half away from zero, as big.Rat.FloatString
        (Fraction(-5, 2), 0, "-3"),
        (Fraction(1, 3), 3, "0.333"),
        (Fraction(2, 3), 3, "0.667"),
        (Fraction(-1, 3000), 3, "0.000"),
        (Fraction(7989898989899, 1000), 0, "7989898990"),
    ],
)
def test_float_string(value, digits, text):
    assert float_string(value, digits) == text


async def _chunks(*parts: bytes, gap_s: float = 0) -> AsyncIterator[bytes]:
    for p in parts:
        yield p
        if gap_s:
            await asyncio.sleep(gap_s)


def test_lines_split_across_chunks_and_drop_cr():
    async def collect() -> list[bytes]:
        return [
            line async for line in lines(_chunks(b"data: a\r", b"\n\ndata: b", b"c\n", b"tail"))
        ]

    assert asyncio.run(collect()) == [b"data: a", b"", b"data: bc", b"tail"]


def test_a_line_longer_than_the_limit_ends_the_stream():
    async def collect() -> list[bytes]:
        return [line async for line in lines(_chunks(b"ok\n", b"x" * 100), max_line=10)]

    assert asyncio.run(collect()) == [b"ok"]


def test_balance_goes_out_before_done():
    async def collect() -> bytes:
        out = relay(
            _chunks(b"data: 1\n\n", b"data: [DONE]\n\n"),
            deadline_s=time.monotonic() + 10,
            debit=lambda units: None,
            balance=lambda: Fraction(1234567, 1000),
        )
        return b"".join([c async for c in out])

    assert asyncio.run(collect()) == (b'data: 1\n\ndata: {"balance": 1234.567}\n\ndata: [DONE]\n\n')


def test_interval_debits_end_the_stream_when_the_balance_goes_negative():
    debits: list[int] = []
    left = [Fraction(12)]

    def debit(units: int) -> Fraction:
        debits.append(units)
        left[0] -= units
        return left[0]

    async def collect() -> bytes:
        endless = _chunks(*[b"data: tick\n\n"] * 1000, gap_s=0.01)
        out = relay(
            endless,
            deadline_s=time.monotonic() + 10,
            debit=debit,
            balance=lambda: left[0],
            debit_interval_s=0.05,
        )
        return b"".join([c async for c in out])

    body = asyncio.run(collect())
    assert body.endswith(INSUFFICIENT) and body.startswith(b"data: tick\n")
    assert left[0] < 0 and len(debits) == 3  # 12 -> 7 -> 2 -> -3: the third debit ends it


def test_deadline_sends_the_balance_and_done():
    async def collect() -> bytes:
        out = relay(
            _chunks(*[b"data: x\n\n"] * 1000, gap_s=0.01),
            deadline_s=time.monotonic() + 0.1,
            debit=lambda units: None,
            balance=lambda: Fraction(0),
        )
        return b"".join([c async for c in out])

    body = asyncio.run(collect())
    assert body.endswith(b'data: {"balance": 0.000}\n\ndata: [DONE]\n\n')
