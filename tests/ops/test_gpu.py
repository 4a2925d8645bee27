"""CUDA kernels against the CPU path, bit for bit for uint8; skipped without a GPU."""

from __future__ import annotations

import numpy as np
import pytest

from lpengine import _native, ops
from tests.helpers import needs_gpu, random_frame

pytestmark = [pytest.mark.gpu, needs_gpu]


def on_device(a: np.ndarray):
    return _native.core.DeviceArray.from_host(a)


def test_device_array_round_trip(rng):
    a = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    d = on_device(a)
    assert d.shape == (7, 5, 3) and d.dtype == "uint8" and d.nbytes == a.nbytes
    assert d.__cuda_array_interface__["typestr"] == "|u1"
    assert np.array_equal(d.to_host(), a)


@pytest.mark.parametrize("fmt", ["yuv420p", "nv12"])
@pytest.mark.parametrize("size", [(2, 2), (66, 34), (1920, 1080)])
def test_yuv_to_rgb_matches_cpu(rng, fmt, size):
    f = random_frame(rng, *size)
    for kw in (
        dict(),
        dict(matrix="bt601", full_range=True),
        dict(dtype="float32", layout="chw"),
        dict(dtype="float16"),
    ):
        got = ops.yuv_to_rgb(on_device(f), pixel_format=fmt, **kw).to_host()
        want = ops.yuv_to_rgb(f, pixel_format=fmt, **kw)
        if want.dtype == np.uint8:
            assert np.array_equal(got, want)
        else:
            assert np.abs(got.astype(np.float32) - want.astype(np.float32)).max() <= 1e-3


@pytest.mark.parametrize("fmt", ["yuv420p", "nv12"])
def test_rgb_to_yuv_matches_cpu(rng, fmt):
    rgb = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    got = ops.rgb_to_yuv(on_device(rgb), pixel_format=fmt).to_host()
    assert np.array_equal(got, ops.rgb_to_yuv(rgb, pixel_format=fmt))
    floats = rng.uniform(-0.1, 1.1, (1080, 1920, 3)).astype(np.float32)
    got = ops.rgb_to_yuv(on_device(floats), pixel_format=fmt).to_host()
    # NOTE: within one LSB: the CPU's vectorized x * 255 + 0.5 may be fused into one FMA
    assert np.abs(got.astype(int) - ops.rgb_to_yuv(floats, pixel_format=fmt)).max() <= 1


@pytest.mark.parametrize("fmt", ["yuv420p", "nv12"])
@pytest.mark.parametrize("mode", ["stretch", "cover", "fit"])
def test_resize_matches_cpu(rng, fmt, mode):
    f = random_frame(rng, 1920, 1080)
    sizes = [(1280, 720), (854, 480), (640, 360), (512, 512), (3840, 2160)]
    got = [o.to_host() for o in ops.resize(on_device(f), sizes, pixel_format=fmt, mode=mode)]
    for g, w in zip(got, ops.resize(f, sizes, pixel_format=fmt, mode=mode), strict=True):
        assert np.array_equal(g, w)


def test_fused_model_input_on_device(rng):
    f = random_frame(rng, 1920, 1080)
    got = ops.yuv_to_rgb(on_device(f), size=(512, 512), mode="cover", dtype="float16", layout="chw")
    want = ops.yuv_to_rgb(f, size=(512, 512), mode="cover", dtype="float16", layout="chw")
    assert np.abs(got.to_host().astype(np.float32) - want.astype(np.float32)).max() <= 1e-3


def test_mixing_host_and_device_is_a_clear_error(rng):
    f = random_frame(rng, 64, 32)
    with pytest.raises(ValueError, match=r"^out: expected memory on the same device"):
        ops.yuv_to_rgb(on_device(f), out=np.empty((32, 64, 3), np.uint8))
