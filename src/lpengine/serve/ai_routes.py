"""The batch AI routes: POST /text-to-image, /image-to-image, /upscale, /audio-to-text (and each
with a trailing `/`), ai-runner's contract (ai-api.md §2) behind go's paid-route checks
(protocol.md §4.5).

Here only the wire is handled: the body (JSON or multipart, parsed by `lpengine.ai.api`: 400
when it does not decode, 422 FastAPI-style when a field is missing or mistyped), the payment
headers (`paid.py`: 402/403/400/500, text/plain as go), then `Engine.ai` accepts the job (403,
400, 503 `insufficient capacity` before any payment) and runs it off the event loop. Pipeline
errors are ai-runner's JSON `{"detail": {"msg": …}}` with its statuses.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from lpengine.ai.api import ROUTES, RouteSpec, ValidationError, parse
from lpengine.ai.errors import AIError
from lpengine.ai.manager import NoCapacity
from lpengine.ai.service import AIJob, JobFailed
from lpengine.engine import Engine
from lpengine.serve import paid

MAX_FORM_FIELD_BYTES = 4 << 20  # text fields (mask_input-sized JSON strings fit)


def ai_routes(engine: Engine) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for spec in ROUTES.values():
        handler = _endpoint(engine, spec)
        routes.append(Route(spec.path, handler, methods=["POST"]))
        routes.append(Route(spec.path + "/", handler, methods=["POST"], include_in_schema=False))
    return routes


def detail(status: int, msg: str) -> Response:
    return JSONResponse({"detail": {"msg": msg}}, status_code=status)


def _endpoint(engine: Engine, spec: RouteSpec) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        try:
            params = parse(spec, await _read_body(request, spec), form=spec.multipart)
            payment, creds = paid.read_headers(request.headers)
            job = await paid.call(engine.ai.accept, payment, creds, spec.pipeline, params)
        except ValidationError as err:
            return JSONResponse({"detail": err.detail}, status_code=422)
        except AIError as err:
            return detail(err.status, err.msg)
        except paid.Refusal as refusal:
            return refusal.response()
        except NoCapacity as err:
            return PlainTextResponse(f"{err}\n", status_code=503)
        return await _run(engine, job)

    return handle


async def _run(engine: Engine, job: AIJob) -> Response:
    try:
        body = await run_in_threadpool(engine.ai.run, job)
    except JobFailed as err:
        return detail(err.status, err.msg)
    finally:
        engine.ai.cancel(job)  # NOTE: a no-op once the job ran; frees the place if it never did
    return JSONResponse(body)


async def _read_body(request: Request, spec: RouteSpec) -> dict[str, Any]:
    """The fields as `lpengine.ai.api.parse` takes them (files as bytes); AIError 400 when the
    body does not decode."""
    content_type = request.headers.get("content-type", "")
    if not spec.multipart:
        try:
            values = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise AIError(400, f"body: expected a JSON object ({err})") from None
        if not isinstance(values, dict):
            raise AIError(400, "body: expected a JSON object")
        return values
    if not content_type.startswith("multipart/form-data"):
        raise AIError(400, f"body: expected multipart/form-data, got {content_type or 'none'!r}")
    try:
        async with request.form(max_part_size=MAX_FORM_FIELD_BYTES) as form:
            out: dict[str, Any] = {}
            for name, value in form.multi_items():
                out[name] = await value.read() if isinstance(value, UploadFile) else value
            return out
    except AIError:
        raise
    except Exception as err:  # the multipart parser's errors name the problem
        raise AIError(400, f"body: malformed multipart form ({err})") from None
