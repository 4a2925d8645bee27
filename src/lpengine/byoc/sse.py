"""Relaying a worker's server-sent events to the gateway, with go-livepeer's interval debits.

Lines are relayed as they arrive (go scans lines and writes each with "\\n"). Every
`debit_interval_s` the job is debited that many seconds; a balance that goes negative ends the
stream with `event: insufficient balance`, `data: {"balance": 0}`, `data: [DONE]`. Before the
worker's `[DONE]` line, and at the job's deadline, the balance goes out as
`data: {"balance": <wei, 3 decimals>}` (protocol.md §4.8).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from fractions import Fraction

DEBIT_INTERVAL_S = 5.0
DEBIT_UNITS = 5  # seconds of compute per interval debit
MAX_LINE_BYTES = 1024 * 1024
_END = object()

INSUFFICIENT = b'event: insufficient balance\ndata: {"balance": 0}\n\ndata: [DONE]\n\n'


def float_string(value: Fraction, digits: int) -> str:
    """go's big.Rat.FloatString: rounded half away from zero to `digits` decimals."""
    scale = 10**digits
    scaled = abs(value) * scale
    rounded = int(scaled) + (1 if scaled - int(scaled) >= Fraction(1, 2) else 0)
    sign = "-" if value < 0 and rounded else ""
    whole, frac = divmod(rounded, scale)
    return f"{sign}{whole}" + (f".{frac:0{digits}d}" if digits else "")


def balance_event(balance: Fraction) -> bytes:
    return b'data: {"balance": %s}\n\n' % float_string(balance, 3).encode()


async def lines(
    chunks: AsyncIterator[bytes], max_line: int = MAX_LINE_BYTES
) -> AsyncIterator[bytes]:
    """Lines without their end (\\n or \\r\\n), as go's bufio.Scanner; a longer line than
    `max_line` ends the stream (go's scanner stops there too)."""
    pending = b""
    async for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.removesuffix(b"\r")
        if len(pending) > max_line:
            return
    if pending:
        yield pending.removesuffix(b"\r")


async def relay(
    source: AsyncIterator[bytes],
    *,
    deadline_s: float,
    debit: Callable[[int], Fraction | None],
    balance: Callable[[], Fraction],
    debit_interval_s: float = DEBIT_INTERVAL_S,
    debit_units: int = DEBIT_UNITS,
) -> AsyncIterator[bytes]:
    """The gateway's stream: `source`'s lines, debits every interval (`debit(seconds)` returns
    the balance left, or None when nothing is charged), ends at `deadline_s` (monotonic)."""
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=100)
    failed: list[Exception] = []

    async def pump() -> None:
        try:
            async for line in lines(source):
                await queue.put(line)
        except Exception as err:  # raised to the gateway's side once the lines before it are out
            failed.append(err)
        finally:
            await queue.put(_END)

    reader = asyncio.create_task(pump())
    next_debit = time.monotonic() + debit_interval_s
    try:
        while True:
            now = time.monotonic()
            if now >= deadline_s:
                yield balance_event(balance()) + b"data: [DONE]\n\n"
                return
            if now >= next_debit:
                next_debit += debit_interval_s
                left = debit(debit_units)
                if left is not None and left < 0:
                    yield INSUFFICIENT
                    return
                continue
            try:
                item = await asyncio.wait_for(queue.get(), min(deadline_s, next_debit) - now)
            except TimeoutError:
                continue
            if item is _END:
                if failed:
                    raise failed[0]
                return
            assert isinstance(item, bytes)
            if b"[DONE]" in item:
                yield balance_event(balance())
            yield item + b"\n"
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
