"""Holds the end of a response until the request body has arrived.

NOTE: hypercorn 0.18 mishandles answers that end before the request body is in. On HTTP/2 it
forgets the stream, and a DATA frame that then arrives for it raises KeyError and drops the
whole connection, with every stream multiplexed on it; on HTTP/1.1 it closes the connection and
the TLS shutdown can raise into the app. Any early answer (404, 405, a 403 before a segment
upload) would do that to a gateway. So the final response message is sent only once the request
body is read: status and body go out at once, the end of the response after the upload. The
wait is bounded; past the bound the response ends anyway. A client that is already gone cannot
be answered: errors sending to it are dropped here.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_DRAIN_BYTES = 8 * 1024 * 1024


class DrainRequestBody:
    def __init__(self, app: ASGIApp, max_drain_bytes: int = MAX_DRAIN_BYTES) -> None:
        self.app = app
        self.max_drain_bytes = max_drain_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = {"done": False, "trailers": False}

        async def tracked_receive() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                state["done"] = True
            return message

        async def drain() -> None:
            drained = 0
            while not state["done"] and drained <= self.max_drain_bytes:
                drained += len((await tracked_receive()).get("body", b""))

        async def safe_send(message: Message) -> None:
            try:
                await send(message)
            except OSError:  # the connection is gone (reset, TLS shut down): nobody to tell
                state["done"] = True

        async def held_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                state["trailers"] = bool(message.get("trailers", False))
            final_body = kind == "http.response.body" and not message.get("more_body", False)
            final_trailers = kind == "http.response.trailers" and not message.get(
                "more_trailers", False
            )
            if state["done"] or not (final_trailers or (final_body and not state["trailers"])):
                await safe_send(message)
                return
            if final_body:
                await safe_send({**message, "more_body": True})
                await drain()
                await safe_send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await drain()
                await safe_send(message)

        await self.app(scope, tracked_receive, held_send)
