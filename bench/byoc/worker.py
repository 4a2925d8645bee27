"""The bench's BYOC worker: echoes the body back (starlette on hypercorn, its own process).

python -m bench.byoc.worker PORT   (prints READY once it listens)
"""

from __future__ import annotations

import asyncio
import socket
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

READY = "bench worker listening"


async def echo(request: Request) -> Response:
    body = await request.body()
    return Response(body, media_type=request.headers.get("content-type", "application/json"))


def main() -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    sock.listen(128)
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    print(READY, flush=True)
    app = Starlette(routes=[Route("/{path:path}", echo, methods=["POST"])])
    asyncio.run(serve(app, config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
