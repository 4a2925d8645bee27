"""An early answer is held until the request body is in (hypercorn 0.18 workaround, drain.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import PlainTextResponse

from lpengine.serve.drain import DrainRequestBody


def run(app: Any, http_version: str, body_chunks: int) -> tuple[list[str], list[dict[str, Any]]]:
    events: list[str] = []
    incoming = [
        {"type": "http.request", "body": b"x" * 10, "more_body": i < body_chunks - 1}
        for i in range(body_chunks)
    ]

    async def receive() -> dict[str, Any]:
        events.append("read")
        return incoming.pop(0)

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        events.append(f"send more={message.get('more_body', False)}")
        sent.append(message)

    scope = {"type": "http", "http_version": http_version, "method": "POST", "path": "/"}
    asyncio.run(DrainRequestBody(app)(scope, receive, send))
    return events, sent


def test_early_answer_ends_after_the_body():
    early = PlainTextResponse("nope", status_code=403)  # answers without reading the body
    events, sent = run(early, "2", body_chunks=3)
    assert events == [
        "send more=False",
        "send more=True",
        "read",
        "read",
        "read",
        "send more=False",
    ]
    assert sent[0]["status"] == 403 and sent[1]["body"] == b"nope" and sent[-1]["body"] == b""


def test_a_read_body_passes_straight_through():
    async def reads_first(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await PlainTextResponse("ok")(scope, receive, send)

    events, _ = run(reads_first, "1.1", body_chunks=2)
    assert events == ["read", "read", "send more=False", "send more=False"]


def test_a_vanished_client_is_not_an_error():
    async def send(message: dict[str, Any]) -> None:
        raise ConnectionResetError("gone")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "http_version": "2", "method": "GET", "path": "/"}
    asyncio.run(DrainRequestBody(PlainTextResponse("x"))(scope, receive, send))
