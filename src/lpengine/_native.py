"""The only importer of ``lpengine._core``: the compiled core may be absent or disabled."""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import Any

from lpengine import envs

log = logging.getLogger(__name__)


def _load() -> ModuleType | None:
    if envs.LPENGINE_DISABLE_NATIVE.get():
        return None
    try:
        _core = importlib.import_module("lpengine._core")
    except ImportError as err:  # pure-Python install or a broken build: the references serve
        log.warning("lpengine._core unavailable (%s); using numpy reference ops", err)
        return None
    return _core


core: Any = _load()
HAS_NATIVE: bool = core is not None
HAS_CUDA: bool = HAS_NATIVE and bool(core.compiled_features()["cuda"])


def compiled_features() -> dict[str, Any]:
    """What the build contains: cpu, cuda, cuda_archs, cuda_runtime, cpu_simd, threads."""
    if core is None:
        return {
            "version": None,
            "cpu": False,
            "cuda": False,
            "cuda_archs": [],
            "cuda_runtime": 0,
            "cpu_simd": [],
            "threads": 1,
        }
    return dict(core.compiled_features())


def cuda_device_count() -> int:
    """CUDA devices usable by the native core (0 without a CUDA build, a driver or a GPU)."""
    return int(core.cuda_device_count()) if HAS_CUDA else 0
