"""Command-line options of `python -m lpengine.serve`, named as go-livepeer names its flags."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from lpengine import envs
from lpengine.config import DEFAULT_HTTP_PORT, EngineConfig, ServeConfig


@dataclass(frozen=True)
class Options:
    engine: EngineConfig
    serve: ServeConfig
    log_level: str


# go-livepeer's -v is a glog verbosity; 6 and up is where it logs request details.
def _log_level(verbosity: int | None) -> str:
    if verbosity is None:
        return envs.LPENGINE_LOG_LEVEL.get()
    return "DEBUG" if verbosity >= 6 else "INFO" if verbosity >= 3 else "WARNING"


def host_port(value: str) -> tuple[str, int]:
    """'host:port', '[v6]:port' or ':port' -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected host:port, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lpengine.serve",
        description="Run an lpengine orchestrator (off-chain, embedded defaults).",
        allow_abbrev=False,
    )
    p.add_argument(
        "-serviceAddr",
        type=host_port,
        default=("127.0.0.1", DEFAULT_HTTP_PORT),
        metavar="HOST:PORT",
        help=f"address to serve on (default 127.0.0.1:{DEFAULT_HTTP_PORT})",
    )
    p.add_argument(
        "-dataDir",
        type=Path,
        default=None,
        help=f"state directory (default ${envs.LPENGINE_DATA_DIR.name} or ~/.lpengine)",
    )
    p.add_argument(
        "-aiModelsDir",
        type=Path,
        default=None,
        help=f"model folders (default ${envs.LPENGINE_MODELS_DIR.name} or ~/.lpengine/models)",
    )
    p.add_argument(
        "-network", default="offchain", choices=["offchain"], help="network (default offchain)"
    )
    p.add_argument(
        "-threads", type=int, default=None, help="native CPU op threads (0 = one per core)"
    )
    p.add_argument(
        "-v",
        type=int,
        default=None,
        metavar="LEVEL",
        help="log verbosity, go-livepeer style (3 info, 6 debug)",
    )
    return p


def parse(argv: list[str] | None = None) -> Options:
    args = parser().parse_args(argv)
    engine_kwargs: dict[str, object] = {"network": args.network}
    if args.dataDir is not None:
        engine_kwargs["data_dir"] = args.dataDir
    if args.aiModelsDir is not None:
        engine_kwargs["models_dir"] = args.aiModelsDir
    if args.threads is not None:
        engine_kwargs["num_threads"] = args.threads
    try:
        engine = EngineConfig(**engine_kwargs)  # type: ignore[arg-type]
    except ValueError as err:
        parser().error(str(err))
    host, port = args.serviceAddr
    return Options(
        engine=engine, serve=ServeConfig(host=host, port=port), log_level=_log_level(args.v)
    )
