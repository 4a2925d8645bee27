"""POST /segment and GET /stream/…: a gateway's segment in, its renditions out (protocol.md §4.2).

The headers are checked first (`paid.read_headers`, `Engine.accept_segment`: 402/403/400/500 as
`paid.py` maps them), then the upload is read (at most 300,000,000 bytes, else 500) and its hash
compared (403 `Forbidden`). Then, as go does, 200 goes out at once: the gateway times the upload
by it. The body follows when the transcode is done: a `TranscodeResult` whose failures are in
its `error`. Renditions stay in the engine's store for `GET /stream/<session>/<profile>/<file>`.

A body with `Content-Type: application/vnd+livepeer.uri` is the segment's URL (http or https):
it is downloaded (at most 300,000,000 bytes, within 8 s, else 400 `BadRequest`, as go) and the
hash is checked on what was downloaded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from lpengine.engine import Engine
from lpengine.media.transcode import MAX_SEGMENT_BYTES
from lpengine.payment import CredentialsError
from lpengine.segment import SegmentJob, media_type
from lpengine.serve import paid, wire
from lpengine.serve.body import read_at_most

URI_BODY = "application/vnd+livepeer.uri"
URI_DOWNLOAD_S = 8.0  # go's HTTPTimeout: a slower download is refused (protocol.md §9)

log = logging.getLogger(__name__)


async def download_segment(uri: str, max_bytes: int = MAX_SEGMENT_BYTES) -> bytes:
    """The segment a gateway sent by URL; raises paid.Refusal(400, 'BadRequest') when it cannot
    be had (go's answer), with the reason logged."""
    try:
        if urlsplit(uri).scheme not in ("http", "https"):
            raise ValueError(f"{uri[:200]!r} is not an http(s) URL")
        start, chunks, size = time.monotonic(), [], 0
        timeout = httpx.Timeout(URI_DOWNLOAD_S)
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client,
            client.stream("GET", uri) as response,
        ):
            if response.status_code != 200:
                raise ValueError(f"{uri} answered {response.status_code}")
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ValueError(f"{uri} is larger than {max_bytes} bytes")
                if time.monotonic() - start > URI_DOWNLOAD_S:
                    raise ValueError(f"{uri} took longer than {URI_DOWNLOAD_S:.0f} s")
                chunks.append(chunk)
        return b"".join(chunks)
    except (ValueError, httpx.HTTPError) as err:
        log.warning("segment download refused: %s", err or type(err).__name__)
        raise paid.Refusal(400, "BadRequest") from None


async def _read_body(request: Request) -> bytes:
    """The upload, whole; 500 past MAX_SEGMENT_BYTES (go's ReadAtMost fails the same way)."""
    body = await read_at_most(request, MAX_SEGMENT_BYTES)
    if body is None:
        raise paid.Refusal(500, "Internal Server Error")
    return body


def segment_endpoint(engine: Engine) -> Callable[[Request], Awaitable[Response]]:
    async def segment(request: Request) -> Response:
        try:
            payment, creds = paid.read_headers(request.headers)
            job = await paid.call(engine.accept_segment, payment, creds)
            body = await _read_body(request)
            if request.headers.get("content-type", "") == URI_BODY:
                body = await download_segment(body.decode("utf-8", "replace").strip())
            job.check_body(body)
        except paid.Refusal as refusal:
            return refusal.response()
        except CredentialsError as err:  # the hash check
            return paid.Refusal(403, str(err)).response()
        # NOTE: go answers with no content type (its sniffer then says text/plain); gateways
        # read the body as a TranscodeResult whatever it says.
        return StreamingResponse(_result(engine, job, body), media_type="application/octet-stream")

    return segment


async def _result(engine: Engine, job: SegmentJob, body: bytes) -> AsyncIterator[bytes]:
    yield b""  # NOTE: status and headers out now: the gateway's upload timer stops at the 200
    result = await run_in_threadpool(engine.run_segment, job, body)
    yield wire.segment_result_to_pb(result).SerializeToString()


def stream_endpoint(engine: Engine) -> Callable[[Request], Awaitable[Response]]:
    async def stream(request: Request) -> Response:
        key = request.path_params["key"]
        data = engine.renditions.get(key)
        if data is None:
            data = engine.ai_results.get(key)
        if data is None:
            return PlainTextResponse("404 page not found\n", status_code=404)
        return Response(data, media_type=media_type(key))

    return stream
