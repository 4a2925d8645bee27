"""The two headers of every paid call, and how refusals go back (protocol.md §4.1-§4.3).

`Livepeer-Payment` (base64 Payment) and `Livepeer-Segment` (base64 SegData) come with /payment
now and with /segment, the AI routes and live later; every such route reads them here and runs
the engine through `call`, so statuses and texts are the same everywhere, as go's:
402 a payment that does not decode (`base64 decode error: …`, `protobuf unmarshal error: …`),
403 segment credentials refused (`ErrorSegEncoding`, `ErrSegSig`, auth token errors, …),
400 a payment refused (the receiver's text, or `Insufficient balance`),
500 `Internal Server Error` (no ticket params for the sender, the database cannot be written).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from functools import partial
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, Response

from lpengine.payment import (
    CredentialsError,
    InternalError,
    Payment,
    PaymentError,
    SegmentCredentials,
)
from lpengine.serve import wire

PAYMENT_HEADER = "Livepeer-Payment"
SEGMENT_HEADER = "Livepeer-Segment"

P = ParamSpec("P")
T = TypeVar("T")


class Refusal(Exception):
    """A paid call refused: the status and go's text (sent with a newline, as http.Error)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text

    def response(self) -> Response:
        return PlainTextResponse(self.text + "\n", status_code=self.status)


def read_headers(headers: Headers) -> tuple[Payment, SegmentCredentials]:
    """Both headers decoded; an empty (or absent) Livepeer-Payment is the empty payment."""
    try:
        payment = wire.decode_payment_header(headers.get(PAYMENT_HEADER, ""))
    except wire.WireError as err:
        raise Refusal(402, str(err)) from None
    try:
        creds = wire.decode_segment_header(headers.get(SEGMENT_HEADER, ""))
    except wire.WireError as err:
        raise Refusal(403, str(err)) from None
    return payment, creds


async def call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn` off the event loop (signatures and fsyncs block); engine refusals become Refusal."""
    with _refusals():
        return await run_in_threadpool(fn, *args, **kwargs)


async def call_on(executor: Executor, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`call`, on the threads of `executor`."""
    with _refusals():
        return await asyncio.get_running_loop().run_in_executor(
            executor, partial(fn, *args, **kwargs)
        )


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except CredentialsError as err:
        raise Refusal(403, str(err)) from None
    except PaymentError as err:
        raise Refusal(400, str(err)) from None
    except InternalError as err:
        raise Refusal(500, str(err)) from None
