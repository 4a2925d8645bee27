"""Shared bench plumbing: machine description, timing, one JSON line per case."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import av

import lpengine
from lpengine import _native, hardware


def machine() -> dict[str, Any]:
    hw = hardware.detect()
    f = lpengine.compiled_features()
    return {
        "cpu": hw.cpu_model,
        "cores": hw.cpu_count,
        "gpus": [g.name for g in hw.gpus],
        "lpengine_native": f["cpu"],
        "lpengine_cuda": f["cuda"],
        "lpengine_threads": f["threads"],
        "python": platform.python_version(),
        "pyav": av.__version__,
        "ffmpeg": av.library_versions.get("libavutil"),
    }


def time_ms(fn: Callable[[], object], iterations: int, warmup: int = 1) -> float:
    """Median wall time of one call, in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def compare_ms(
    fns: dict[str, Callable[[], object]], iterations: int, warmup: int = 3
) -> dict[str, float]:
    """Median wall time of each function in ms, calls interleaved round-robin so that machine
    drift (other processes, frequency changes) weighs on every contender alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(iterations):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(s) for name, s in samples.items()}


def on_gpu(array: Any) -> Any | None:
    """The array in CUDA memory, or None when there is no GPU to bench on."""
    if _native.cuda_device_count() == 0:
        return None
    return _native.core.DeviceArray.from_host(array)


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def args(description: str, flags: dict[str, str] | None = None) -> argparse.Namespace:
    """The common options, plus a bench's own on/off `flags` ({"--flag": help})."""
    p = argparse.ArgumentParser(description=description)
    for flag, text in (flags or {}).items():
        p.add_argument(flag, action="store_true", help=text)
    p.add_argument(
        "--smoke", action="store_true", help="tiny sizes, one iteration (run by the tests)"
    )
    p.add_argument("--iterations", type=int, default=50, help="timed calls per implementation")
    a = p.parse_args()
    if a.smoke:
        a.iterations = 1
    return a


def check(condition: bool, message: str) -> None:
    """A bench that computes a wrong answer must not print a ratio as if it were fine."""
    if not condition:
        print(f"bench failed: {message}", file=sys.stderr)
        sys.exit(1)
