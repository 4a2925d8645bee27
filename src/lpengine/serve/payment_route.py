"""POST /payment: a gateway tops up a balance (protocol.md §4.3).

The SDK posts an empty form-encoded body with `Connection: close`; the body is never parsed.
The payment goes to the balance of `SegData.manifestId`; the answer is `PaymentResult` with
refreshed info (new ticket params, the price for the session) and the gateway's own auth token.
Refusals: see `paid.py`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from lpengine.engine import Engine
from lpengine.net import lp_rpc_pb2 as pb
from lpengine.serve import paid, wire


def payment_endpoint(engine: Engine) -> Callable[[Request], Awaitable[Response]]:
    async def payment(request: Request) -> Response:
        try:
            tickets, creds = paid.read_headers(request.headers)
            info = await paid.call(engine.receive_payment, tickets, creds)
        except paid.Refusal as refusal:
            return refusal.response()
        body = pb.PaymentResult(info=wire.orchestrator_info_to_pb(info)).SerializeToString()
        return Response(body, media_type="application/octet-stream")

    return payment
