"""`python -m lpengine.serve`: start the engine and serve it until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config

from lpengine.engine import Engine
from lpengine.log import setup_logging
from lpengine.serve.app import build_app
from lpengine.serve.options import Options, parse

log = logging.getLogger("lpengine.serve")


async def run(options: Options) -> None:
    with Engine(options.engine) as engine:
        config = Config()
        host = options.serve.host
        config.bind = [
            f"[{host}]:{options.serve.port}" if ":" in host else f"{host}:{options.serve.port}"
        ]
        config.accesslog = None
        config.errorlog = logging.getLogger("lpengine.serve.http")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("serving on http://%s", config.bind[0])
        await serve(build_app(engine), config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
        log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    setup_logging(options.log_level)
    asyncio.run(run(options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
