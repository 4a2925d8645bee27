"""A BYOC worker for the tests: a real HTTP server process (starlette on hypercorn).

python tests/byoc/echo_worker.py PORT [--garbage]

POST /<anything> echoes what it got as JSON (with `X-Metadata: echo-meta`); special paths:
`sleep/<s>` answers after s seconds, `status/<code>` answers that status, `sse/<n>/<gap_s>` sends
n events then `data: [DONE]`, `endless` streams bytes forever, `big/<n>` answers n bytes.
GET /health answers what `POST /admin/health` (body: a status) last set, 200 at first.
`--garbage` serves a TCP server that answers every connection with bytes that are not HTTP.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

READY = "echo worker listening"


def _app():  # type: ignore[no-untyped-def]
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route

    state = {"health": 200}

    async def health(_: Request) -> Response:
        return PlainTextResponse("health", status_code=state["health"])

    async def set_health(request: Request) -> Response:
        state["health"] = int(await request.body())
        return PlainTextResponse("ok")

    async def job(request: Request) -> Response:
        path = request.path_params["path"]
        parts = path.split("/")
        body = await request.body()
        if parts[0] == "sleep":
            await asyncio.sleep(float(parts[1]))
        if parts[0] == "status":
            return PlainTextResponse(f"worker says {parts[1]}", status_code=int(parts[1]))
        if parts[0] == "sse":
            count, gap_s = int(parts[1]), float(parts[2])

            async def events() -> AsyncIterator[bytes]:
                for i in range(count):
                    yield b'data: {"i": %d}\r\n\r\n' % i
                    await asyncio.sleep(gap_s)
                yield b"data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        if parts[0] == "endless":

            async def forever() -> AsyncIterator[bytes]:
                while True:
                    yield b"x" * 1024
                    await asyncio.sleep(0.01)

            return StreamingResponse(forever(), media_type="application/octet-stream")
        if parts[0] == "big":
            return Response(b"y" * int(parts[1]), media_type="application/octet-stream")
        echo = {
            "path": path,
            "body": body.decode("utf-8", "replace"),
            "content_type": request.headers.get("content-type"),
            "content_length": request.headers.get("content-length"),
            "authorization": request.headers.get("authorization"),
        }
        return JSONResponse(echo, headers={"X-Metadata": "echo-meta"})

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/admin/health", set_health, methods=["POST"]),
            Route("/{path:path}", job, methods=["POST"]),
        ]
    )


async def _garbage(sock: socket.socket) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\x00\x01 this is not HTTP \xff\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, sock=sock)
    async with server:
        await server.serve_forever()


def main() -> None:
    port = int(sys.argv[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    print(READY, flush=True)
    if "--garbage" in sys.argv:
        asyncio.run(_garbage(sock))
        return
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    stop = asyncio.Event()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await serve(_app(), config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    asyncio.run(run())


class WorkerProcess:
    """The worker in a subprocess on `port`: started, awaited by its ready line, stopped."""

    def __init__(self, port: int, *args: str, script: Path = Path(__file__)) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        if READY not in first:
            raise RuntimeError(f"worker did not start: {first}{self.proc.stdout.read()}")
        self._reader = threading.Thread(target=self.proc.stdout.read, daemon=True)
        self._reader.start()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self._reader.join(10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


if __name__ == "__main__":
    main()
