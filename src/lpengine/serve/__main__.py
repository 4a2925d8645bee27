"""`python -m lpengine.serve`: start the engine and serve it until SIGINT/SIGTERM.

Listens on the service port (TLS: gRPC + HTTPS, ALPN h2 and http/1.1), the optional plaintext
-httpAddr (h2c + HTTP/1.1, same routes) and the operator API (-cliAddr). Sockets are bound before
anything is served, so a taken port fails at once, and the line "lpengine listening: ..." means
every listener accepts connections.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Coroutine
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

from lpengine.engine import Engine
from lpengine.log import set_verbosity, setup_logging
from lpengine.serve.app import build_app
from lpengine.serve.operator import operator_app
from lpengine.serve.options import Options, parse
from lpengine.serve.tls import ensure_certificate

log = logging.getLogger("lpengine.serve")

HTTP_IDLE_TIMEOUT_S = 600  # go's HTTP server idle timeout (protocol.md §9)
GOMP_SPINCOUNT = "10000"  # unless the operator sets it: see main()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; raises OSError naming the address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise OSError(err.errno, f"cannot listen on {host}:{port}: {err.strerror}") from None
    sock.listen(1024)
    return sock


def _url(scheme: str, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def _config(**kwargs: Any) -> Config:
    config = Config()
    config.accesslog = None
    config.errorlog = logging.getLogger("lpengine.serve.http")
    config.keep_alive_timeout = HTTP_IDLE_TIMEOUT_S
    # NOTE: hypercorn closes a connection after 1000 requests by default, which gRPC clients
    # see as a protocol error mid-call; go sets no such limit.
    config.keep_alive_max_requests = 2**62
    config.include_server_header = False  # go sends none; one header less to encode per reply
    for key, value in kwargs.items():
        setattr(config, key, value)
    return config


def _log_dropped_connections(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """One line, not a traceback, for a connection the HTTP server gave up on (one client's
    problem, never the server's); anything else goes to asyncio's default handler."""
    if context.get("message", "").startswith("Unhandled exception in client_connected_cb"):
        log.warning("connection dropped: %r", context.get("exception"))
        return
    loop.default_exception_handler(context)


async def run(options: Options) -> None:
    s = options.serve
    tls = bind(s.host, s.port)
    plain = bind(s.plain_host, s.plain_port) if s.plain_host is not None else None
    cli = bind(s.cli_host, s.cli_port)
    urls = [_url("https", tls), *([_url("http", plain)] if plain else []), _url("http", cli)]
    with Engine(options.engine) as engine:
        host = engine.config.service_uri.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")
        if host in ("0.0.0.0", "::"):
            log.warning("-serviceAddr %s is not routable: gateways need a reachable host", host)
        certfile, keyfile = ensure_certificate(engine.config.data_dir, host)
        # NOTE: hypercorn owns the descriptors from here (detach, so nothing closes them twice).
        service = _config(
            bind=[f"fd://{tls.detach()}"],
            insecure_bind=[f"fd://{plain.detach()}"] if plain else [],
            certfile=str(certfile),
            keyfile=str(keyfile),
            alpn_protocols=["h2", "http/1.1"],  # h2 first: selected whenever a client offers it
        )
        operator = _config(bind=[f"fd://{cli.detach()}"])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_log_dropped_connections)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info(
            "lpengine listening: service %s (advertised %s)%s, operator %s",
            urls[0],
            engine.config.service_uri,
            f", plaintext {urls[1]}" if plain else "",
            urls[-1],
        )
        await asyncio.gather(
            serve(build_app(engine), service, shutdown_trigger=stop.wait),  # type: ignore[arg-type]
            serve(operator_app(engine), operator, shutdown_trigger=stop.wait),  # type: ignore[arg-type]
        )
        log.info("stopped")


def _event_loop_run(main: Coroutine[Any, Any, None]) -> None:
    """`main` on uvloop (libuv: per request about 0.1-0.2 ms less event-loop time than
    asyncio's own loop, measured on the AI routes), or on asyncio's where uvloop is missing."""
    try:
        import uvloop
    except ImportError:  # Windows: no uvloop
        asyncio.run(main)
        return
    uvloop.run(main)


def main(argv: list[str] | None = None) -> int:
    # NOTE: before torch loads libgomp, which reads it once. GNU OpenMP's threads spin for about
    # 300000 pauses after each parallel region (tens of ms on these CPUs): after every model call
    # they held a core that the event loop and the HTTP client needed, and a lone AI request's
    # response took 2.6 ms longer. 10000 kept the model time the same (measured on tiny SD).
    os.environ.setdefault("GOMP_SPINCOUNT", GOMP_SPINCOUNT)
    options = parse(argv)
    setup_logging(options.log_level)
    if options.verbosity is not None:
        set_verbosity(options.verbosity)
    try:
        _event_loop_run(run(options))
    except OSError as err:
        log.error("%s", err.strerror or err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
