"""POST /live-video-to-video: a gateway starts a live stream (protocol.md §4.6).

Order: the JSON body (400), a slot for (live-video-to-video, model_id) before anything is paid
(503 `insufficient capacity`), the payment headers (`paid.py`: 402/403/400, the slot released),
then the four channels and the in-process session, and 200 with their URLs at once: the SDK
gives up after 5 s, and the stream's work all happens after the answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from lpengine.engine import Engine
from lpengine.live.streams import InsufficientCapacity
from lpengine.serve import paid
from lpengine.serve.body import read_at_most

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20


async def _request_json(request: Request) -> dict[str, Any]:
    body = await read_at_most(request, MAX_BODY_BYTES)
    if body is None:
        raise paid.Refusal(400, f"request body over {MAX_BODY_BYTES} bytes")
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise paid.Refusal(400, f"invalid JSON body: {err}") from None
    if not isinstance(doc, dict):
        raise paid.Refusal(400, "invalid JSON body: expected an object")
    model_id = doc.get("model_id")
    if not isinstance(model_id, str) or not model_id:
        raise paid.Refusal(400, "model_id: required, a non-empty string")
    params = doc.get("params")
    if params is not None and not isinstance(params, dict):
        raise paid.Refusal(400, f"params: expected a JSON object, got {params!r}")
    return doc


def live_endpoint(engine: Engine) -> Callable[[Request], Awaitable[Response]]:
    async def live_video_to_video(request: Request) -> Response:
        try:
            doc = await _request_json(request)
            try:
                slot = engine.live.reserve(doc["model_id"])
            except InsufficientCapacity as err:
                raise paid.Refusal(503, str(err)) from None
            try:
                payment, creds = paid.read_headers(request.headers)
                await paid.call(engine.accept_live, payment, creds, slot.manifest_id)
                job = engine.live.start(
                    slot,
                    doc.get("params") or {},
                    engine.live_debit(payment),
                    engine.live_switch_check(payment, slot.model_id),
                )
            except ValueError as err:  # params the pipeline refuses (start released the slot)
                raise paid.Refusal(400, str(err)) from None
            except BaseException:
                engine.live.release(slot)
                raise
        except paid.Refusal as refusal:
            return refusal.response()
        body: dict[str, Any] = job.to_json()
        request_id = doc.get("gateway_request_id") or request.headers.get("requestID")
        if request_id:
            body["request_id"] = request_id
        return JSONResponse(body)

    return live_video_to_video
