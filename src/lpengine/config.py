"""Frozen configuration of the engine and its server."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lpengine import envs

DEFAULT_HTTP_PORT = 8935
DEFAULT_CLI_PORT = 7935


@dataclass(frozen=True)
class EngineConfig:
    """What an embedding host chooses; defaults are the embedded, off-chain ones."""

    data_dir: Path = field(default_factory=envs.LPENGINE_DATA_DIR.get)
    models_dir: Path = field(default_factory=envs.LPENGINE_MODELS_DIR.get)
    network: str = "offchain"
    num_threads: int = field(default_factory=envs.LPENGINE_NUM_THREADS.get)

    def __post_init__(self) -> None:
        if self.num_threads < 0:
            raise ValueError(
                f"num_threads: expected >= 0 (0 = one per core), got {self.num_threads}"
            )
        if self.network != "offchain":
            raise ValueError(
                "network: expected 'offchain' (chain support is not built yet), "
                f"got {self.network!r}"
            )


@dataclass(frozen=True)
class ServeConfig:
    """Where `python -m lpengine.serve` listens."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_HTTP_PORT

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port: expected 0..65535, got {self.port}")
