"""The gRPC-over-ASGI adapter in process: framing, statuses and trailers, message by message."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import pytest

from lpengine.net import lp_rpc_pb2 as pb
from lpengine.serve.grpc import Code, GrpcApp, RpcError, Unary, frame, is_grpc, unframe


def scope(
    path: str = "/net.Orchestrator/Ping", method: str = "POST", **headers: str
) -> dict[str, Any]:
    hs = [(b"content-type", b"application/grpc"), (b"te", b"trailers")]
    hs += [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http", "http_version": "2", "method": method, "path": path, "headers": hs}


def call(app: GrpcApp, body: bytes, chunks: int = 1, **kwargs: Any) -> list[dict[str, Any]]:
    """Runs one request through the ASGI app; returns what it sent."""
    size = max(1, len(body) // chunks)
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    incoming = [
        {"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
        for i, p in enumerate(parts)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope(**kwargs), receive, send))
    return sent


def trailers(sent: list[dict[str, Any]]) -> dict[bytes, bytes]:
    assert sent[-1]["type"] == "http.response.trailers"
    return dict(sent[-1]["headers"])


def echo_app() -> GrpcApp:
    def ping(request: pb.PingPong) -> pb.PingPong:
        if request.value == b"boom":
            raise ValueError("internal detail that must not leak")
        if request.value == b"refuse":
            raise RpcError(Code.UNKNOWN, "Invalid auth token: 100% bad\n")
        return pb.PingPong(value=request.value[::-1])

    return GrpcApp({"/net.Orchestrator/Ping": Unary(pb.PingPong, ping)})


def test_unary_call_with_trailers():
    sent = call(echo_app(), frame(pb.PingPong(value=b"abc").SerializeToString()), chunks=3)
    start, body = sent[0], sent[1]
    assert start["status"] == 200 and start["trailers"] is True
    assert (b"content-type", b"application/grpc") in start["headers"]
    assert pb.PingPong.FromString(unframe(body["body"])).value == b"cba"
    assert trailers(sent) == {b"grpc-status": b"0"}


def test_errors_are_statuses_with_percent_encoded_messages():
    sent = call(echo_app(), frame(pb.PingPong(value=b"refuse").SerializeToString()))
    assert sent[1]["body"] == b""
    assert trailers(sent) == {
        b"grpc-status": b"2",
        b"grpc-message": b"Invalid auth token: 100%25 bad%0A",
    }
    crashed = trailers(call(echo_app(), frame(pb.PingPong(value=b"boom").SerializeToString())))
    assert crashed == {b"grpc-status": b"13", b"grpc-message": b"internal error"}


def test_unknown_service_and_method():
    assert (
        trailers(call(echo_app(), frame(b""), path="/net.Orchestrator/Nope"))[b"grpc-message"]
        == b"unknown method Nope for service net.Orchestrator"
    )
    t = trailers(call(echo_app(), frame(b""), path="/x.Y/Z"))
    assert t[b"grpc-status"] == b"12" and t[b"grpc-message"] == b"unknown service x.Y"


def test_compressed_messages():
    body = struct.pack(">BI", 1, 0)
    assert trailers(call(echo_app(), body))[b"grpc-status"] == b"13"  # flag without an encoding
    gzip = trailers(call(echo_app(), body, grpc_encoding="gzip"))
    assert gzip[b"grpc-status"] == b"12" and b"gzip" in gzip[b"grpc-message"]


def test_non_post_is_plain_405():
    sent = call(echo_app(), b"", method="GET")
    assert sent[0]["status"] == 405 and sent[-1]["type"] == "http.response.body"


def test_a_client_that_leaves_gets_no_answer():
    app = echo_app()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope(), receive, send))
    assert sent == []


def test_oversized_bodies_are_not_buffered():
    app = GrpcApp(echo_app().methods, max_message_bytes=10)
    sent = call(app, frame(b"x" * 1000), chunks=50)
    t = trailers(sent)
    assert t[b"grpc-status"] == b"8" and b"larger than max (1000 vs. 10)" in t[b"grpc-message"]


@pytest.mark.parametrize(
    "version,content_type,expected",
    [
        ("2", b"application/grpc", True),
        ("2", b"application/grpc+proto", True),
        ("2", b"application/json", False),
        ("1.1", b"application/grpc", False),  # gRPC is HTTP/2 only; go routes the same way
    ],
)
def test_routing(version, content_type, expected):
    s = {"type": "http", "http_version": version, "headers": [(b"content-type", content_type)]}
    assert is_grpc(s) is expected
    assert not is_grpc({"type": "lifespan"})
