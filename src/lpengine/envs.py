"""Every ``LPENGINE_*`` environment variable, declared once with its type and default.

Build-time variables (read by CMake through pyproject.toml) are listed too, so this file is the
one place to look them up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EnvVar:
    name: str
    default: str
    help: str

    def raw(self) -> str:
        return os.environ.get(self.name, self.default)


@dataclass(frozen=True)
class StrVar(EnvVar):
    def get(self) -> str:
        return self.raw()


@dataclass(frozen=True)
class IntVar(EnvVar):
    def get(self) -> int:
        value = self.raw()
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{self.name}: expected an integer, got {value!r}") from None


@dataclass(frozen=True)
class BoolVar(EnvVar):
    def get(self) -> bool:
        value = self.raw().strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("", "0", "false", "no", "off"):
            return False
        raise ValueError(f"{self.name}: expected 0/1/true/false, got {value!r}")


@dataclass(frozen=True)
class PathVar(EnvVar):
    def get(self) -> Path:
        return Path(self.raw()).expanduser()


LPENGINE_DATA_DIR = PathVar(
    "LPENGINE_DATA_DIR", "~/.lpengine", "State: SQLite databases, TLS certificate, secrets."
)
LPENGINE_MODELS_DIR = PathVar(
    "LPENGINE_MODELS_DIR", "~/.lpengine/models", "Model folders in Hugging Face layout."
)
LPENGINE_LOG_LEVEL = StrVar("LPENGINE_LOG_LEVEL", "INFO", "Root log level of lpengine.")
LPENGINE_NUM_THREADS = IntVar(
    "LPENGINE_NUM_THREADS", "0", "Threads for native CPU ops (0 = one per core); read by _core."
)
LPENGINE_HOST_POOL_MB = IntVar(
    "LPENGINE_HOST_POOL_MB",
    "256",
    "Cap on idle host buffers _core keeps for reuse as op outputs; read by _core.",
)
LPENGINE_DISABLE_NATIVE = BoolVar(
    "LPENGINE_DISABLE_NATIVE", "0", "Ignore lpengine._core and run the numpy reference ops."
)
LPENGINE_CUDA = StrVar(
    "LPENGINE_CUDA", "AUTO", "Build time: compile CUDA kernels (AUTO when nvcc is found, ON, OFF)."
)
LPENGINE_CUDA_ARCHS = StrVar(
    "LPENGINE_CUDA_ARCHS", "", "Build time: CUDA architectures, e.g. '90-real;90-virtual'."
)
LPENGINE_REQUIRE_TOOLS = BoolVar(
    "LPENGINE_REQUIRE_TOOLS",
    "0",
    "Tests: fail, instead of skipping, when a program of `make tools` (anvil, solcjs) is absent.",
)

ALL: tuple[EnvVar, ...] = (
    LPENGINE_DATA_DIR,
    LPENGINE_MODELS_DIR,
    LPENGINE_LOG_LEVEL,
    LPENGINE_NUM_THREADS,
    LPENGINE_HOST_POOL_MB,
    LPENGINE_DISABLE_NATIVE,
    LPENGINE_CUDA,
    LPENGINE_CUDA_ARCHS,
    LPENGINE_REQUIRE_TOOLS,
)
