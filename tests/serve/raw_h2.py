"""A bare HTTP/2-over-TLS client (the `h2` library on a socket) for sending malformed gRPC.

grpcio only sends well-formed requests; these tests need truncated frames, garbage messages and
resets, and want to see the raw status, headers and trailers that come back.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events


@dataclass
class Reply:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    data: bytes = b""
    trailers: dict[str, str] = field(default_factory=dict)
    reset: bool = False

    @property
    def grpc_status(self) -> int | None:
        value = self.trailers.get("grpc-status", self.headers.get("grpc-status"))
        return None if value is None else int(value)

    @property
    def grpc_message(self) -> str:
        return self.trailers.get("grpc-message", self.headers.get("grpc-message", ""))


def tls_socket(port: int, alpn: list[str] | None, timeout_s: float = 5) -> ssl.SSLSocket:
    """A TLS connection without SNI (as the SDK connects to an IP) and without verification."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    return ctx.wrap_socket(sock, server_hostname=None)


class H2Client:
    def __init__(self, port: int) -> None:
        self.sock = tls_socket(port, ["h2"])
        assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self.conn.initiate_connection()
        self._flush()

    def _flush(self) -> None:
        self.sock.sendall(self.conn.data_to_send())

    def start(
        self,
        path: str,
        method: str = "POST",
        content_type: str = "application/grpc",
        extra: list[tuple[str, str]] | None = None,
    ) -> int:
        stream = self.conn.get_next_available_stream_id()
        headers = [
            (":method", method),
            (":scheme", "https"),
            (":authority", "127.0.0.1"),
            (":path", path),
            ("content-type", content_type),
            ("te", "trailers"),
            *(extra or []),
        ]
        self.conn.send_headers(stream, headers)
        self._flush()
        return stream

    def send(self, stream: int, data: bytes, end: bool = True) -> None:
        self.conn.send_data(stream, data, end_stream=end)
        self._flush()

    def reset(self, stream: int) -> None:
        self.conn.reset_stream(stream)
        self._flush()

    def request(self, path: str, body: bytes, **kwargs: object) -> Reply:
        stream = self.start(path, **kwargs)  # type: ignore[arg-type]
        self.send(stream, body)
        return self.read(stream)

    def read(self, stream: int) -> Reply:
        """Reads until `stream` ends or is reset."""
        reply = Reply()
        while True:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            for event in self.conn.receive_data(data):
                if getattr(event, "stream_id", None) != stream:
                    continue
                if isinstance(event, h2.events.ResponseReceived):
                    reply.headers = dict(event.headers)  # type: ignore[arg-type]
                    reply.status = int(reply.headers[":status"])
                elif isinstance(event, h2.events.DataReceived):
                    reply.data += event.data
                    self.conn.acknowledge_received_data(event.flow_controlled_length, stream)
                elif isinstance(event, h2.events.TrailersReceived):
                    reply.trailers = dict(event.headers)  # type: ignore[arg-type]
                elif isinstance(event, h2.events.StreamReset):
                    reply.reset = True
                    return reply
                elif isinstance(event, h2.events.StreamEnded):
                    self._flush()
                    return reply
            self._flush()

    def close(self) -> None:
        self.conn.close_connection()
        self._flush()
        self.sock.close()
