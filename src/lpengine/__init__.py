"""lpengine: an embeddable, native-accelerated Livepeer orchestrator engine.

Imports without the compiled core: `lpengine._native` reports what the build contains.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from lpengine._native import HAS_CUDA, HAS_NATIVE, compiled_features
from lpengine.config import EngineConfig, ServeConfig
from lpengine.engine import Engine

try:
    __version__ = version("lpengine")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "HAS_CUDA",
    "HAS_NATIVE",
    "Engine",
    "EngineConfig",
    "ServeConfig",
    "__version__",
    "compiled_features",
]
