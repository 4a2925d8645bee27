"""A JSON-RPC relay in front of a real anvil that the tests can break: down (connection refused),
hanging (accepts and never answers), failing (HTTP 502) or answering JSON-RPC errors."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FORWARD, HANG, HTTP_ERROR, RPC_ERROR = "forward", "hang", "http-error", "rpc-error"


class RpcProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = FORWARD
        self.requests = 0
        self._release = threading.Event()  # ends hanging requests
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        """Listens again (on the same port after `down`)."""
        if self._server is not None:
            return
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                proxy.requests += 1
                mode = proxy.mode
                if mode == HANG:
                    proxy._release.wait(30)
                    return
                if mode == HTTP_ERROR:
                    self._answer(502, b"bad gateway")
                    return
                if mode == RPC_ERROR:
                    req: Any = json.loads(body)
                    error = {"code": -32603, "message": "internal error: backend unavailable"}
                    self._answer(200, json.dumps(
                        {"jsonrpc": "2.0", "id": req.get("id"), "error": error}
                    ).encode())  # fmt: skip
                    return
                forward = urllib.request.Request(
                    proxy.upstream, body, {"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(forward, timeout=30) as r:
                    answer = r.read()
                with contextlib.suppress(OSError):  # the client timed out and left
                    self._answer(200, answer)

            def _answer(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._release.clear()
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, name="rpc-proxy", daemon=True).start()
        self._server = server

    def down(self) -> None:
        """Stops listening: connections are refused until `up`."""
        if self._server is not None:
            self._release.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self) -> None:
        self.down()
