"""The batch AI routes: POST /text-to-image, /image-to-image, /upscale, /audio-to-text, /llm,
/image-to-text, /segment-anything-2, /image-to-video, /text-to-speech (each also with a trailing
`/`; the list is `lpengine.ai.api.ROUTES`), ai-runner's contract (ai-api.md §2) behind go's
paid-route checks (protocol.md §4.5).

Here only the wire is handled: the body (JSON or multipart, parsed by `lpengine.ai.api`: 400
when it does not decode, 422 FastAPI-style when a field is missing or mistyped), the payment
headers (`paid.py`: 402/403/400/500, text/plain as go), then `Engine.ai` accepts the job (403,
400, 503 `insufficient capacity` before any payment) and runs it off the event loop. Pipeline
errors are ai-runner's JSON `{"detail": {"msg": …}}` with its statuses. `/llm` with `stream`
answers server-sent events: one `data: <LLMResponse with a delta>` per piece of text, a last one
with `finish_reason` `stop` and the usage, then `data: [DONE]` (a failure: `data: {"error": …}`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from lpengine.ai.api import ROUTES, RouteSpec, ValidationError, parse
from lpengine.ai.errors import AIError
from lpengine.ai.manager import NoCapacity
from lpengine.ai.pipelines.llm import response as llm_response
from lpengine.ai.results import stores_results
from lpengine.ai.service import AIJob, JobFailed
from lpengine.engine import Engine
from lpengine.payment import Payment, SegmentCredentials
from lpengine.serve import paid
from lpengine.serve.body import read_at_most

MAX_FORM_FIELD_BYTES = 4 << 20  # text fields (mask_input-sized JSON strings fit)
MAX_JSON_BODY_BYTES = 16 << 20  # JSON routes (llm histories, prompts); ai-runner sets none


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
            stream = spec.pipeline == "llm" and bool(params["stream"])
            store = stores_results(spec.pipeline, request.headers.get("authorization", ""))
            args = (engine, payment, creds, spec.pipeline, params, not stream, store)
            job, outcome = await paid.call_on(engine.ai.jobs, _accept_and_run, *args)
        except ValidationError as err:
            return JSONResponse({"detail": err.detail}, status_code=422)
        except AIError as err:
            return detail(err.status, err.msg)
        except paid.Refusal as refusal:
            return refusal.response()
        except NoCapacity as err:
            return PlainTextResponse(f"{err}\n", status_code=503)
        if stream:
            return _stream(engine, job)
        if isinstance(outcome, JobFailed):
            return detail(outcome.status, outcome.msg)
        # Server-Timing (W3C): where the response time went, so clients can tell overhead apart
        timing = f"queue;dur={job.queue_s * 1e3:.3f}, model;dur={job.model_s * 1e3:.3f}"
        return JSONResponse(outcome, headers={"Server-Timing": timing})

    return handle


def _accept_and_run(
    engine: Engine,
    payment: Payment,
    creds: SegmentCredentials,
    pipeline: str,
    params: dict[str, Any],
    run: bool,
    store: bool,
) -> tuple[AIJob, dict[str, Any] | JobFailed | None]:
    """The job accepted (refusals raise) and, unless `run` is false, run, its media stored for
    download when `store` (lpengine.ai.results): one trip to a worker thread per request. The
    place is always given back, even if the client went away."""
    job = engine.ai.accept(payment, creds, pipeline, params)
    if not run:
        return job, None
    try:
        return job, engine.ai.run(job, store)
    except JobFailed as err:
        return job, err
    finally:
        engine.ai.cancel(job)  # NOTE: a no-op once the job ran


def _stream(engine: Engine, job: AIJob) -> Response:
    """The LLM's text as server-sent events while it is generated (ai-api.md §2.7)."""
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str | None] = asyncio.Queue()
    (item,) = job.prepared.items
    item.inputs["on_text"] = lambda text: loop.call_soon_threadsafe(pieces.put_nowait, text)
    running = loop.run_in_executor(engine.ai.jobs, engine.ai.run, job)

    def finished(future: asyncio.Future[dict[str, Any]]) -> None:
        if not future.cancelled():
            future.exception()  # NOTE: retrieved here too, in case the client went away
        pieces.put_nowait(None)

    running.add_done_callback(finished)
    model, id_ = job.model_id, f"chatcmpl-{uuid.uuid4()}"

    def event(doc: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(doc)}\n\n".encode()

    async def events() -> AsyncIterator[bytes]:
        while (piece := await pieces.get()) is not None:
            delta = {"role": "assistant", "content": piece}
            choice = {"index": 0, "finish_reason": "", "delta": delta}
            yield event(llm_response(model, 0, 0, choice, id_))
        try:
            body = running.result()
        except JobFailed as err:
            yield event({"error": err.msg})
            return
        usage = body["usage"]
        last = {"index": 0, "finish_reason": "stop", "delta": {"role": "assistant", "content": ""}}
        yield event(
            llm_response(model, usage["prompt_tokens"], usage["completion_tokens"], last, id_)
        )
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def _read_body(request: Request, spec: RouteSpec) -> dict[str, Any]:
    """The fields as `lpengine.ai.api.parse` takes them (files as bytes); AIError 400 when the
    body does not decode."""
    content_type = request.headers.get("content-type", "")
    if not spec.multipart:
        data = await read_at_most(request, MAX_JSON_BODY_BYTES)
        if data is None:
            raise AIError(413, f"body: larger than {MAX_JSON_BODY_BYTES >> 20} MiB")
        try:
            values = json.loads(data)
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
