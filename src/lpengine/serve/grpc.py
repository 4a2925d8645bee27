"""Unary gRPC over ASGI: framing, status codes and trailers, done by hand on HTTP/2.

A request is gRPC iff it arrives over HTTP/2 with a `content-type` starting `application/grpc`
(go routes the same way, protocol.md §1.1). The body is one length-prefixed message (1 byte
compressed flag, 4 bytes big-endian length, the message); the answer is one such message and the
status in HTTP/2 trailers (`grpc-status`, `grpc-message`), sent through the ASGI
`http.response.trailers` extension.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any
from urllib.parse import quote

from google.protobuf.message import DecodeError, Message
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # gRPC's default receive limit (go's server uses it too)
_PREFIX = struct.Struct(">BI")


class Code(IntEnum):
    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    RESOURCE_EXHAUSTED = 8
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14


class RpcError(Exception):
    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Unary:
    """One unary method: the request type and the handler (request message -> reply message)."""

    request: type[Message]
    handler: Callable[[Any], Message]


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def is_grpc(scope: Scope) -> bool:
    if scope["type"] != "http" or scope.get("http_version") != "2":
        return False
    return _header(scope, b"content-type").startswith("application/grpc")


def frame(message: bytes) -> bytes:
    return _PREFIX.pack(0, len(message)) + message


def unframe(body: bytes, max_bytes: int = MAX_MESSAGE_BYTES, encoding: str = "") -> bytes:
    """The single message of a unary request body; RpcError for anything else.

    `encoding` is the request's grpc-encoding; no compression is supported (none is offered:
    the server sends no grpc-accept-encoding, so clients do not compress).
    """
    if len(body) < _PREFIX.size:
        raise RpcError(Code.INTERNAL, "grpc: request is not a length-prefixed message")
    flag, length = _PREFIX.unpack_from(body)
    if flag not in (0, 1):
        raise RpcError(Code.INTERNAL, f"grpc: invalid compressed flag {flag}")
    if flag == 1 and encoding in ("", "identity"):
        raise RpcError(Code.INTERNAL, "grpc: compressed flag set with identity or empty encoding")
    if flag == 1:
        raise RpcError(
            Code.UNIMPLEMENTED,
            f'grpc: Decompressor is not installed for grpc-encoding "{encoding}"',
        )
    if length > max_bytes:
        raise RpcError(
            Code.RESOURCE_EXHAUSTED,
            f"grpc: received message larger than max ({length} vs. {max_bytes})",
        )
    end = _PREFIX.size + length
    if len(body) < end:
        raise RpcError(Code.INTERNAL, "grpc: truncated message (unexpected EOF)")
    if len(body) > end:
        raise RpcError(Code.INTERNAL, "grpc: more than one request message for a unary method")
    return body[_PREFIX.size : end]


async def _read_body(receive: Receive, max_bytes: int) -> tuple[bytes, bool]:
    """The request body, up to max_bytes + 5; the rest is read and dropped. -> (body, complete)."""
    chunks: list[bytes] = []
    size = 0
    limit = max_bytes + _PREFIX.size
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        if size < limit:
            chunks.append(chunk[: limit - size])
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


class GrpcApp:
    """ASGI app serving unary methods by path, e.g. '/net.Orchestrator/GetOrchestrator'."""

    def __init__(
        self,
        methods: Mapping[str, Unary],
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        on_done: Callable[[str, Code, float], None] | None = None,
    ) -> None:
        self.methods = dict(methods)
        self.services = {path.split("/")[1] for path in self.methods}
        self.max_message_bytes = max_message_bytes
        self.on_done = on_done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        path = scope["path"]
        if scope["method"] != "POST":  # not gRPC at all: a plain HTTP answer
            await send({"type": "http.response.start", "status": 405, "headers": []})
            await send({"type": "http.response.body", "body": b"gRPC requires POST\n"})
            return
        body, complete = await _read_body(receive, self.max_message_bytes)
        if not complete:
            return  # the client went away; there is nobody to answer
        try:
            reply = self._call(path, body, _header(scope, b"grpc-encoding"))
        except RpcError as err:
            code = err.code
            await self._respond(send, b"", err.code, err.message)
        else:
            code = Code.OK
            await self._respond(send, frame(reply), Code.OK, "")
        if self.on_done is not None:
            self.on_done(path, code, time.perf_counter() - start)

    def _call(self, path: str, body: bytes, encoding: str) -> bytes:
        method = self.methods.get(path)
        if method is None:
            service, _, name = path.lstrip("/").partition("/")
            if service not in self.services:
                raise RpcError(Code.UNIMPLEMENTED, f"unknown service {service}")
            raise RpcError(Code.UNIMPLEMENTED, f"unknown method {name} for service {service}")
        raw = unframe(body, self.max_message_bytes, encoding)
        try:
            request = method.request.FromString(raw)
        except DecodeError as err:
            raise RpcError(Code.INTERNAL, f"grpc: error unmarshalling request: {err}") from None
        try:
            reply: bytes = method.handler(request).SerializeToString()
            return reply
        except RpcError:
            raise
        except Exception:
            log.exception("%s failed", path)
            raise RpcError(Code.INTERNAL, "internal error") from None

    @staticmethod
    async def _respond(send: Send, body: bytes, code: Code, message: str) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/grpc")],
                "trailers": True,
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})
        trailers = [(b"grpc-status", str(int(code)).encode())]
        if message:
            # Percent-encoded as the gRPC spec asks (printable ASCII except '%' passes as is).
            encoded = quote(message, safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~")
            trailers.append((b"grpc-message", encoded.encode("ascii")))
        await send({"type": "http.response.trailers", "headers": trailers, "more_trailers": False})
