"""What the build contains, and the pure-Python fallback when the core is absent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np

import lpengine
from lpengine import _native, ops


def test_compiled_features_shape():
    f = lpengine.compiled_features()
    assert set(f) >= {"version", "cpu", "cuda", "cuda_archs", "cuda_runtime", "cpu_simd", "threads"}
    assert f["cpu"] is True and f["threads"] >= 1


def test_cuda_objects_are_in_a_cuda_build():
    # The build compiles kernels/ whenever nvcc is found (LPENGINE_CUDA=AUTO), as it is on CI.
    if os.environ.get("LPENGINE_CUDA", "AUTO").upper() == "OFF" or not shutil.which("nvcc"):
        assert not _native.HAS_CUDA or lpengine.compiled_features()["cuda_archs"]
        return
    f = lpengine.compiled_features()
    assert f["cuda"] is True, "nvcc is installed but lpengine._core was built without CUDA"
    assert f["cuda_runtime"] >= 12000 and any(a.startswith("90") for a in f["cuda_archs"])
    assert hasattr(_native.core, "DeviceArray") and hasattr(_native.core, "cuda_device_info")


def test_cuda_device_count_never_raises_without_a_gpu():
    assert _native.cuda_device_count() >= 0


def test_thread_count_can_be_set_and_restored():
    core = _native.core
    before = core.num_threads()
    core.set_num_threads(1)
    assert core.num_threads() == 1
    frame = np.full((6, 4), 100, np.uint8)
    assert ops.resize(frame, [(2, 2)])[0].shape == (3, 2)
    core.set_num_threads(0)
    assert core.num_threads() == before


def test_package_imports_and_ops_work_without_the_core():
    code = (
        "import json, numpy as np, lpengine, lpengine.ops as ops;"
        "f = np.full((6, 4), 128, np.uint8);"
        "print(json.dumps([lpengine.HAS_NATIVE, ops.yuv_to_rgb(f).shape,"
        " ops.resize(f, [(2, 2)])[0].shape]))"
    )
    env = {**os.environ, "LPENGINE_DISABLE_NATIVE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == [False, [4, 4, 3], [3, 2]]


def test_outputs_own_their_memory_while_alive(rng: np.random.Generator) -> None:
    # Output buffers are recycled once numpy frees them, never while an array still uses them.
    frame = rng.integers(0, 256, (1080 * 3 // 2, 1920), dtype=np.uint8)
    first = ops.yuv_to_rgb(frame)
    keep = first.copy()
    others = [ops.yuv_to_rgb(np.zeros_like(frame)) for _ in range(4)]
    assert not any(np.shares_memory(first, o) for o in others)
    assert np.array_equal(first, keep)
    del others
    again = ops.yuv_to_rgb(frame)
    assert np.array_equal(again, keep) and again.flags.owndata is False and again.base is not None
