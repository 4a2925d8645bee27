"""POST /payment: a gateway tops up a session (protocol.md §4.3).

The SDK posts an empty form-encoded body with `Connection: close`; the body is never parsed.
Failures answer as go does: 402 for a payment that does not decode, 403 for refused segment
credentials, 400 for a refused payment, each with the error text and a newline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from lpengine.engine import Engine
from lpengine.net import lp_rpc_pb2 as pb
from lpengine.payment import CredentialsError, PaymentError
from lpengine.serve import wire

PAYMENT_HEADER = "Livepeer-Payment"
SEGMENT_HEADER = "Livepeer-Segment"


def _error(status: int, text: str) -> Response:
    return PlainTextResponse(text + "\n", status_code=status)


def payment_endpoint(engine: Engine) -> Callable[[Request], Awaitable[Response]]:
    async def payment(request: Request) -> Response:
        try:
            paid = wire.decode_payment_header(request.headers.get(PAYMENT_HEADER, ""))
        except wire.WireError as err:
            return _error(402, str(err))
        try:
            creds = wire.decode_segment_header(request.headers.get(SEGMENT_HEADER, ""))
        except wire.WireError as err:
            return _error(403, str(err))
        try:
            # NOTE: the payments module will verify ticket signatures here: not on the loop.
            info = await run_in_threadpool(engine.receive_payment, paid, creds)
        except CredentialsError as err:
            return _error(403, str(err))
        except PaymentError as err:
            return _error(400, str(err))
        body = pb.PaymentResult(info=wire.orchestrator_info_to_pb(info)).SerializeToString()
        return Response(body, media_type="application/octet-stream")

    return payment
