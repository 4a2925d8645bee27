"""yuv_to_rgb / rgb_to_yuv against their numpy references, every format, matrix and range."""

from __future__ import annotations

import numpy as np
import pytest

from lpengine import _native, ops
from tests.helpers import random_frame

SIZES = [(2, 2), (4, 6), (66, 34), (1922, 1082)]
FORMATS = ["yuv420p", "nv12"]
MATRICES = ["bt601", "bt709"]

pytestmark = pytest.mark.skipif(
    not _native.HAS_NATIVE, reason="compares the native core with the reference"
)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("matrix", MATRICES)
@pytest.mark.parametrize("full_range", [False, True])
def test_yuv_to_rgb24_within_one_lsb(rng, size, fmt, matrix, full_range):
    f = random_frame(rng, *size)
    kw = dict(pixel_format=fmt, matrix=matrix, full_range=full_range)
    got = ops.yuv_to_rgb(f, **kw)
    want = ops.yuv_to_rgb_reference(f, **kw)
    assert got.shape == (size[1], size[0], 3) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype,tol", [("float32", 1e-3), ("float16", 1e-3)])
@pytest.mark.parametrize("layout", ["hwc", "chw"])
def test_yuv_to_rgb_float(rng, size, fmt, dtype, tol, layout):
    f = random_frame(rng, *size)
    kw = dict(pixel_format=fmt, matrix="bt709", dtype=dtype, layout=layout)
    got = ops.yuv_to_rgb(f, **kw)
    want = ops.yuv_to_rgb_reference(f, **kw)
    assert got.dtype == np.dtype(dtype) and got.shape == want.shape
    # float16 itself rounds at ~5e-4 near 1.0: compare against the float64 maths, not its rounding
    exact = ops.yuv_to_rgb_reference(f, pixel_format=fmt, dtype="float32", layout=layout)
    assert np.abs(got.astype(np.float64) - exact.astype(np.float64)).max() <= tol
    assert got.min() >= 0.0 and got.max() <= 1.0


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("matrix", MATRICES)
@pytest.mark.parametrize("full_range", [False, True])
def test_rgb_to_yuv_within_one_lsb(rng, size, fmt, matrix, full_range):
    w, h = size
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    kw = dict(pixel_format=fmt, matrix=matrix, full_range=full_range)
    got = ops.rgb_to_yuv(rgb, **kw)
    want = ops.rgb_to_yuv_reference(rgb, **kw)
    assert got.shape == (h * 3 // 2, w)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("matrix", MATRICES)
def test_rgb_to_yuv_float_within_one_lsb(rng, size, fmt, matrix):
    w, h = size
    # Out of range on both sides, exact code values (k / 255) and NaN: all clamped as documented.
    rgb = rng.uniform(-0.1, 1.1, (h, w, 3)).astype(np.float32)
    rgb.reshape(-1)[::7] = rng.integers(0, 256, rgb.size // 7 + (rgb.size % 7 > 0)) / 255.0
    rgb.reshape(-1)[3] = np.nan
    kw = dict(pixel_format=fmt, matrix=matrix)
    got = ops.rgb_to_yuv(rgb, **kw)
    want = ops.rgb_to_yuv_reference(rgb, **kw)
    assert got.shape == (h * 3 // 2, w) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    # Fused: the same frame as rounding to RGB24 first and converting that.
    codes = np.clip(np.nan_to_num(rgb * np.float32(255.0) + np.float32(0.5)), 0, 255)
    assert np.array_equal(got, ops.rgb_to_yuv(codes.astype(np.uint8), **kw))


@pytest.mark.parametrize("matrix", MATRICES)
def test_round_trip_of_grey_and_primaries_is_close(matrix):
    colours = np.array(
        [[0, 0, 0], [255, 255, 255], [128, 128, 128], [255, 0, 0], [0, 255, 0], [0, 0, 255]]
    )
    rgb = (
        np.repeat(np.repeat(colours[:, None, None, :], 2, 1), 2, 2)
        .reshape(-1, 2, 3)
        .astype(np.uint8)
    )
    rgb = np.ascontiguousarray(rgb.reshape(6 * 2, 2, 3))
    back = ops.yuv_to_rgb(ops.rgb_to_yuv(rgb, matrix=matrix), matrix=matrix)
    assert np.abs(back.astype(int) - rgb.astype(int)).max() <= 3


def test_known_values_bt709_limited():
    # Y=16 is black, Y=235 white; a saturated BT.709 red is Y=63 U=102 V=240.
    f = np.empty((3, 2), np.uint8)
    for y, u, v, rgb in [
        (16, 128, 128, (0, 0, 0)),
        (235, 128, 128, (255, 255, 255)),
        (63, 102, 240, (255, 0, 0)),
    ]:
        f[:2], f[2, 0], f[2, 1] = y, u, v
        got = ops.yuv_to_rgb(f)[0, 0]
        assert np.abs(got.astype(int) - np.array(rgb)).max() <= 2, (y, u, v, got)


def test_resize_then_convert_in_one_call(rng):
    f = random_frame(rng, 1920, 1080)
    got = ops.yuv_to_rgb(f, size=(512, 512), mode="cover", dtype="float32", layout="chw")
    want = ops.yuv_to_rgb_reference(f, size=(512, 512), mode="cover", dtype="float32", layout="chw")
    assert got.shape == (3, 512, 512)
    # the reference resizes in float64 before rounding to 8 bits: one LSB of YUV is 1/219
    assert np.abs(got - want).max() <= 1.5 / 219 * 2


def test_out_argument_is_filled_and_returned(rng):
    f = random_frame(rng, 64, 32)
    out = np.empty((32, 64, 3), np.uint8)
    assert ops.yuv_to_rgb(f, out=out) is out
    assert np.array_equal(out, ops.yuv_to_rgb(f))
