"""The trickle protocol over HTTP at `/ai/trickle/` (protocol.md §4.7); state in `live.trickle`.

Uploads are relayed while they arrive: a POST writes each body chunk into its segment as it is
received and every GET of that segment streams it out at once. A GET of the next segment to be
written waits for it (long-poll); the status and headers of a GET go out with its first byte,
since they depend on how the segment starts. Error bodies are go's (`http.Error`: text and a
newline), except the 470 and closed-channel answers, which carry `Entry not found` bare.

NOTE: go sends `100 Continue` every 10 s while a POST has no byte yet, to keep proxies from
timing out the connection; ASGI cannot send interim responses, so lpengine does not. Clients
do not depend on it (the SDK and ai-runner ignore interim responses).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from lpengine.live.trickle import Channel, Segment, TrickleServer

log = logging.getLogger(__name__)

PREFIX = "/ai/trickle"
SEQ = "Lp-Trickle-Seq"
LATEST = "Lp-Trickle-Latest"
CLOSED = "Lp-Trickle-Closed"
RESET = "Lp-Trickle-Reset"


def routes(trickle: TrickleServer) -> list[Route]:
    channel_ep, segment_ep = _channel_endpoint(trickle), _segment_endpoint(trickle)
    return [
        Route(PREFIX + "/{channel}", channel_ep, methods=["POST", "DELETE"]),
        Route(PREFIX + "/{channel}/{idx}", segment_ep, methods=["GET", "POST", "DELETE"]),
    ]


def _error(text: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(text + "\n", status_code=status, headers=headers)


def _parse_idx(text: str) -> int | None:
    try:
        idx = int(text)
    except ValueError:
        return None
    return idx if idx >= -2 else None


def _channel_endpoint(trickle: TrickleServer) -> Callable[[Request], Awaitable[Response]]:
    async def channel(request: Request) -> Response:
        name = request.path_params["channel"]
        if request.method == "POST":  # create: channels are the node's, so only "it exists"
            if trickle.channel(name) is None:
                return _error("Stream not found", 404)
            return Response(b"")
        if not trickle.close_channel(name):
            return _error("Invalid stream", 400)
        return Response(b"")

    return channel


def _segment_endpoint(trickle: TrickleServer) -> Callable[[Request], Awaitable[Response]]:
    async def segment(request: Request) -> Response:
        ch = trickle.channel(request.path_params["channel"])
        raw_idx = request.path_params["idx"]
        if ch is None:
            closing = {"Connection": "close"} if request.method == "POST" else None
            return _error("Stream not found", 404, closing)
        if request.method == "GET" and raw_idx == "next":
            return _next(ch)
        idx = _parse_idx(raw_idx)
        if idx is None or (request.method == "POST" and idx == -2):
            return _error("Invalid idx", 400)
        if request.method == "GET":
            return _get(ch, idx)
        if request.method == "POST":
            return await _post(ch, idx, request)
        if not ch.close_segment(idx):
            return _error("Nonexistent segment", 400)
        return Response(b"")

    return segment


def _next(ch: Channel) -> Response:
    headers = {LATEST: str(ch.next_write)}
    if ch.closed:
        headers[CLOSED] = "terminated"
    return PlainTextResponse(str(ch.next_write), headers=headers)


def _get(ch: Channel, idx: int) -> Response:
    latest = ch.next_write
    requested = ch.resolve(idx)
    found = ch.segment_for_read(idx)
    if isinstance(found, int):
        if ch.closed:
            return PlainTextResponse("Entry not found", headers={CLOSED: "terminated"})
        headers = {LATEST: str(found), SEQ: str(requested)}
        return PlainTextResponse("Entry not found", status_code=470, headers=headers)
    return SegmentResponse(ch, found, latest)


async def _post(ch: Channel, idx: int, request: Request) -> Response:
    if RESET in request.headers:
        ch.reset_below(ch.resolve(idx))
    seg, overwritten = ch.segment_for_write(idx)
    if overwritten:
        log.warning("trickle channel %s: segment %d overwritten", ch.name, seg.idx)
        seg.reset()
    try:
        await _receive_into(ch, seg, request)
    except ClientDisconnect:
        seg.close()
        return _error("Server error", 500)
    headers = {SEQ: str(seg.idx)}
    if seg.size == 0:  # idle rollover, or a preconnected POST that the channel closed
        ch.mark_written(seg.idx)
        headers["Connection"] = "close"
        if ch.closed:
            headers[CLOSED] = "terminated"
    seg.close()
    return Response(b"", headers=headers)


async def _receive_into(ch: Channel, seg: Segment, request: Request) -> bool:
    """Copies the upload into `seg` as it arrives; True if the segment was closed (the channel
    closing, a DELETE) before the first byte, which ends the wait for it."""
    chunks = request.stream().__aiter__()
    closed = asyncio.ensure_future(seg.started())
    try:
        while True:
            chunk_task = asyncio.ensure_future(anext(chunks, None))
            if seg.size == 0:
                await asyncio.wait({chunk_task, closed}, return_when=asyncio.FIRST_COMPLETED)
                if not chunk_task.done():  # closed with no byte: stop waiting for one
                    chunk_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await chunk_task
                    return True
            chunk = await chunk_task
            if chunk is None:
                return False
            if chunk:
                if seg.size == 0:
                    ch.mark_written(seg.idx)  # nextWrite moves on the first byte
                seg.write(chunk)
    finally:
        closed.cancel()


class SegmentResponse(Response):
    """One segment streamed to a subscriber: headers with the first byte, then every byte
    written to it until it closes; stops when the subscriber goes away."""

    def __init__(self, ch: Channel, seg: Segment, latest: int) -> None:
        super().__init__(media_type=ch.mime_type)
        self.ch, self.seg, self.latest = ch, seg, latest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def gone() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        watcher = asyncio.ensure_future(gone())
        streamer = asyncio.ensure_future(self._stream(send))
        try:
            await asyncio.wait({watcher, streamer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (watcher, streamer):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await task

    async def _stream(self, send: Send) -> None:
        ch, seg = self.ch, self.seg
        started = False
        async for chunk in seg.chunks():
            if not started:
                headers = {SEQ: str(seg.idx), "Content-Type": ch.mime_type}
                if seg.idx != self.latest:
                    headers[LATEST] = str(self.latest)
                await send(_start(200, headers))
                started = True
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if not started:  # closed with no byte
            headers = {SEQ: str(seg.idx), LATEST: str(ch.next_write)}
            if ch.closed:
                headers[CLOSED] = "terminated"
            await send(_start(200, headers))
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _start(status: int, headers: dict[str, str]) -> dict[str, object]:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
