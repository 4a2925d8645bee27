"""BYOC routes (protocol.md §4.8): registration, quotes and jobs, parsed here, run by
`engine.byoc`, written back as go-livepeer writes them.

- `POST /capability/register`, `/capability/unregister`: `Authorization: <orchSecret>` (else 400
  `invalid authorization`), JSON / the name; 200 `ok`, 400 `Error registering capability: …`.
- `GET /process/token`: JSON (go's encoding/json of JobToken: bytes in base64, zero fields left
  out).
- `POST /process/request/<subpath>`: refusals as text with go's statuses; the worker's answer
  relayed with `Livepeer-Balance` (SSE: `Livepeer-Payment-Balance`, streamed).
- `POST /ai/stream/start|stop|update|payment`: BYOC streams (`engine.byoc_streams`), the same
  headers as jobs, a JSON body of at most 1 MiB (413 past it); refusals as text.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from lpengine.byoc import Byoc, JobRefused, JobToken, RegistrationError, parse_registration
from lpengine.byoc.registration import MAX_REGISTRATION_BYTES
from lpengine.byoc.running import JobResult
from lpengine.byoc.stream import MAX_BODY_BYTES, ByocStreams
from lpengine.payment import Payment
from lpengine.pm.ticket import minimal_bytes
from lpengine.serve import wire
from lpengine.serve.body import read_at_most

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


def _text(status: int, text: str) -> Response:
    """go's http.Error: the text and a newline."""
    return PlainTextResponse(text + "\n", status_code=status)


def register_endpoint(byoc: Byoc) -> Endpoint:
    async def register(request: Request) -> Response:
        if not byoc.check_secret(request.headers.get("authorization")):
            return _text(400, "invalid authorization")
        body = await read_at_most(request, MAX_REGISTRATION_BYTES)
        try:
            if body is None:
                raise RegistrationError(f"body: expected at most {MAX_REGISTRATION_BYTES} bytes")
            registration = parse_registration(body)
            await run_in_threadpool(byoc.register, registration)
        except ValueError as err:  # RegistrationError, or a price the node cannot convert
            log.warning("BYOC registration refused: %s", err)
            return _text(400, f"Error registering capability: {err}")
        return PlainTextResponse("ok")

    return register


def unregister_endpoint(byoc: Byoc) -> Endpoint:
    async def unregister(request: Request) -> Response:
        if not byoc.check_secret(request.headers.get("authorization")):
            return _text(400, "invalid authorization")
        body = await read_at_most(request, MAX_REGISTRATION_BYTES)
        name = (body or b"").decode("utf-8", "replace").strip()
        if not byoc.unregister(name):
            return _text(400, f"Error removing capability: {name!r} is not registered")
        return PlainTextResponse("ok")

    return unregister


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def token_json(token: JobToken) -> dict[str, Any]:
    """go's encoding/json of byoc.JobToken (omitempty fields left out, []byte in base64)."""
    doc: dict[str, Any] = {"sender_address": {"addr": token.sender.addr, "sig": token.sender.sig}}
    if (p := token.ticket_params) is not None:
        params: dict[str, Any] = {
            "recipient": _b64(p.recipient),
            "face_value": _b64(minimal_bytes(p.face_value)),
            "win_prob": _b64(minimal_bytes(p.win_prob)),
            "recipient_rand_hash": _b64(p.recipient_rand_hash),
            "seed": _b64(minimal_bytes(p.seed)),
            "expiration_block": _b64(minimal_bytes(p.expiration_block)),
        }
        if (e := p.expiration_params) is not None:
            params["expiration_params"] = {
                "creation_round": e.creation_round,
                "creation_round_block_hash": _b64(e.creation_round_block_hash),
            }
        doc["ticket_params"] = {k: v for k, v in params.items() if v}
    if token.balance_wei:
        doc["balance"] = token.balance_wei
    price = {
        "pricePerUnit": token.price.price_per_unit,
        "pixelsPerUnit": token.price.pixels_per_unit,
    }
    doc["price"] = {k: v for k, v in price.items() if v}
    doc["service_addr"] = token.service_addr
    if token.available_capacity:
        doc["available_capacity"] = token.available_capacity
    doc["LastNonce"] = 0  # NOTE: go encodes this untagged field too
    return doc


def token_endpoint(byoc: Byoc) -> Endpoint:
    async def token(request: Request) -> Response:
        try:
            answer = await run_in_threadpool(
                byoc.token,
                request.headers.get("livepeer-eth-address"),
                request.headers.get("livepeer-capability"),
            )
        except JobRefused as refused:
            return _text(refused.status, refused.text)
        return JSONResponse(token_json(answer))

    return token


def _payment(header: str | None) -> Payment | None:
    if not header:
        return None
    try:
        return wire.decode_payment_header(header)
    except wire.WireError as err:  # go only logs it: the balance check decides
        log.info("BYOC job: Livepeer-Payment does not decode: %s", err)
        return None


def job_endpoint(byoc: Byoc) -> Endpoint:
    async def process(request: Request) -> Response:
        headers = request.headers
        try:
            job = await run_in_threadpool(
                byoc.accept, headers.get("livepeer"), _payment(headers.get("livepeer-payment"))
            )
        except JobRefused as refused:
            return _text(refused.status, refused.text)
        result = await byoc.run(
            job,
            request.path_params.get("subpath", ""),
            request.stream(),
            headers.get("content-type", ""),
            headers.get("content-length"),
        )
        if result.events is not None:
            return StreamingResponse(
                result.events, status_code=result.status, headers=result.headers
            )
        return Response(result.body, status_code=result.status, headers=result.headers)

    return process


def routes(byoc: Byoc) -> list[Route]:
    job = job_endpoint(byoc)
    return [
        Route("/capability/register", register_endpoint(byoc), methods=["POST"]),
        Route("/capability/unregister", unregister_endpoint(byoc), methods=["POST"]),
        Route("/process/token", token_endpoint(byoc), methods=["GET"]),
        Route("/process/request/{subpath:path}", job, methods=["POST"]),
        Route("/process/request", job, methods=["POST"]),
    ]


StreamCall = Callable[[str | None, Payment | None, bytes], Awaitable[JobResult]]


def stream_endpoint(call: StreamCall, strict_payment: bool = False) -> Endpoint:
    async def handle(request: Request) -> Response:
        headers = request.headers
        body = await read_at_most(request, MAX_BODY_BYTES)
        if body is None:
            return _text(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        payment_header = headers.get("livepeer-payment")
        if strict_payment and payment_header:
            try:
                payment: Payment | None = wire.decode_payment_header(payment_header)
            except wire.WireError as err:
                return _text(400, f"Could not parse payment err={err}")
        else:
            payment = _payment(payment_header)
        try:
            result = await call(headers.get("livepeer"), payment, body)
        except JobRefused as refused:
            return _text(refused.status, refused.text)
        return Response(result.body, status_code=result.status, headers=result.headers)

    return handle


def stream_routes(streams: ByocStreams) -> list[Route]:
    async def pay(header: str | None, payment: Payment | None, _: bytes) -> JobResult:
        return await streams.payment(header, payment)

    calls: dict[str, Endpoint] = {
        "start": stream_endpoint(streams.start),
        "stop": stream_endpoint(streams.stop),
        "update": stream_endpoint(streams.update),
        "payment": stream_endpoint(pay, strict_payment=True),
    }
    return [Route(f"/ai/stream/{name}", call, methods=["POST"]) for name, call in calls.items()]
