"""Multi-output resize against its numpy reference: ratios up and down, modes, formats."""

from __future__ import annotations

import numpy as np
import pytest

from lpengine import _native, ops
from tests.helpers import random_frame

pytestmark = pytest.mark.skipif(
    not _native.HAS_NATIVE, reason="compares the native core with the reference"
)

CASES = [
    ((1920, 1080), [(1280, 720), (854, 480), (640, 360)]),
    ((1922, 1082), [(512, 512)]),
    ((2, 2), [(2, 2), (64, 64)]),
    ((640, 360), [(1920, 1080)]),
    ((1920, 1080), [(16, 16)]),
    ((4000, 2000), [(16, 8)]),
    ((64, 48), [(48, 64), (66, 30), (64, 48)]),
]


@pytest.mark.parametrize("src,sizes", CASES)
@pytest.mark.parametrize("fmt", ["yuv420p", "nv12"])
@pytest.mark.parametrize("mode", ["stretch", "cover", "fit"])
def test_resize_within_one_lsb(rng, src, sizes, fmt, mode):
    f = random_frame(rng, *src)
    got = ops.resize(f, sizes, pixel_format=fmt, mode=mode)
    want = ops.resize_reference(f, sizes, pixel_format=fmt, mode=mode)
    assert len(got) == len(sizes)
    for (w, h), g, r in zip(sizes, got, want, strict=True):
        assert g.shape == (h * 3 // 2, w) and g.dtype == np.uint8
        assert np.abs(g.astype(int) - r.astype(int)).max() <= 1


def test_same_size_stretch_is_identity(rng):
    f = random_frame(rng, 96, 64)
    (out,) = ops.resize(f, [(96, 64)])
    assert np.array_equal(out, f)


def test_flat_frame_stays_flat_in_every_mode():
    f = np.full((1080 * 3 // 2, 1920), 77, np.uint8)
    for mode in ("stretch", "cover"):
        for out in ops.resize(f, [(1280, 720), (512, 512), (2, 2)], mode=mode):
            assert (out == 77).all()


@pytest.mark.parametrize("full_range,black", [(False, 16), (True, 0)])
def test_fit_letterboxes_with_black(full_range, black):
    f = np.full((1080 * 3 // 2, 1920), 200, np.uint8)
    (out,) = ops.resize(f, [(512, 512)], mode="fit", full_range=full_range)
    _, (x, y, w, h) = ops.resize_geometry(1920, 1080, 512, 512, "fit")
    assert (x, w) == (0, 512) and h == 288 and y == 112
    luma = out[:512]
    assert (luma[:y] == black).all() and (luma[y + h :] == black).all()
    assert (luma[y : y + h] == 200).all()
    chroma = out[512:].reshape(-1)
    assert (chroma[: (256 * y // 2)] == 128).all()


def test_cover_crops_the_centre():
    # left half dark, right half bright: a square cover of a wide frame keeps the centre seam
    f = np.full((1080 * 3 // 2, 1920), 128, np.uint8)
    f[:1080, :960] = 20
    f[:1080, 960:] = 220
    (out,) = ops.resize(f, [(100, 100)], mode="cover")
    row = out[50, :].astype(int)
    assert row[0] == 20 and row[-1] == 220 and abs(int(np.argmax(np.diff(row))) - 49) <= 1


def test_outs_are_filled(rng):
    f = random_frame(rng, 64, 48)
    outs = [np.empty((24 * 3 // 2, 32), np.uint8), np.empty((12 * 3 // 2, 16), np.uint8)]
    got = ops.resize(f, [(32, 24), (16, 12)], outs=outs)
    assert got[0] is outs[0] and got[1] is outs[1]
    assert np.array_equal(outs[1], ops.resize(f, [(16, 12)])[0])
