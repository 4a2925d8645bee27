"""Calling a BYOC capability: an HTTP worker (streamed both ways) or an in-process callable.

Either way the answer is a `WorkerReply` whose body arrives in chunks, so the job runner treats
SSE and whole bodies, workers and callables alike. Deadlines are the caller's (`asyncio.timeout`
around the call and the reading).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from lpengine.byoc.registration import Registration


@dataclass(frozen=True)
class JobInput:
    """What an in-process capability receives."""

    capability: str
    subpath: str  # after /process/request/
    body: bytes
    content_type: str
    request: dict[str, Any]  # the JobRequest's `request`, parsed
    parameters: str  # the JobRequest's `parameters` (JSON text or "")
    timeout_s: int


@dataclass(frozen=True)
class JobOutput:
    """What an in-process capability answers; an async iterator body with content type
    `text/event-stream` is relayed as SSE, with the periodic debits."""

    body: bytes | AsyncIterator[bytes] = b""
    status: int = 200
    content_type: str = "application/json"
    metadata: str = ""  # sent as X-Metadata


async def _nothing() -> None:
    return None


@dataclass
class WorkerReply:
    status: int
    content_type: str
    metadata: str
    chunks: AsyncIterator[bytes]
    close: Callable[[], Awaitable[None]] = field(default=_nothing)

    @property
    def is_sse(self) -> bool:
        return "text/event-stream" in self.content_type


class WorkerUnreachable(Exception):
    """No HTTP answer from the worker (refused, reset, not HTTP): go removes the capability."""


class BodyTooLarge(Exception):
    """The gateway's body passed the limit while it was forwarded."""


async def capped(body: AsyncIterable[bytes], max_bytes: int) -> AsyncIterator[bytes]:
    """`body` as it comes, raising BodyTooLarge past `max_bytes`."""
    size = 0
    async for chunk in body:
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(f"request body larger than {max_bytes} bytes")
        yield chunk


async def call_http(
    client: httpx.AsyncClient,
    registration: Registration,
    subpath: str,
    body: AsyncIterable[bytes],
    content_type: str,
    content_length: str | None,
) -> WorkerReply:
    """POST <url>/<subpath> with the body streamed through; raises WorkerUnreachable."""
    url = registration.url + ("/" + subpath if subpath else "")
    headers = {"Content-Type": content_type} if content_type else {}
    if content_length is not None:
        headers["Content-Length"] = content_length  # NOTE: httpx then sends no chunked framing
    if registration.token:
        headers["Authorization"] = f"Bearer {registration.token}"
    request = client.build_request("POST", url, content=body, headers=headers)
    try:
        response = await client.send(request, stream=True)
    except httpx.TransportError as err:
        raise WorkerUnreachable(f"{type(err).__name__}: {err}".rstrip(": ")) from None
    return WorkerReply(
        status=response.status_code,
        content_type=response.headers.get("content-type", ""),
        metadata=response.headers.get("x-metadata", ""),
        chunks=_chunks(response),
        close=response.aclose,
    )


async def _chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.TransportError as err:
        raise WorkerUnreachable(f"{type(err).__name__}: {err}".rstrip(": ")) from None


async def call_handler(handler: Callable[[JobInput], Any], job: JobInput) -> WorkerReply:
    """An in-process capability; a plain function runs in a worker thread."""
    if inspect.iscoroutinefunction(handler):
        out = await handler(job)
    else:
        out = await asyncio.to_thread(handler, job)
        if inspect.isawaitable(out):
            out = await out
    if not isinstance(out, JobOutput):
        raise TypeError(f"the capability answered {type(out).__name__}, expected a JobOutput")
    body = out.body
    chunks = _one(body) if isinstance(body, bytes | bytearray) else body
    return WorkerReply(out.status, out.content_type, out.metadata, chunks)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield bytes(data)
