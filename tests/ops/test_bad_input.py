"""Bad arguments are a ValueError naming the argument and the expected value, native or not."""

from __future__ import annotations

import numpy as np
import pytest

from lpengine import _native, ops

IMPLS = {
    "reference": (ops.yuv_to_rgb_reference, ops.rgb_to_yuv_reference, ops.resize_reference),
}
if _native.HAS_NATIVE:
    IMPLS["native"] = (
        _native.core.yuv_to_rgb,
        _native.core.rgb_to_yuv,
        _native.core.resize,
    )

GOOD = np.zeros((6, 4), np.uint8)  # a 4x4 frame


@pytest.fixture(params=sorted(IMPLS))
def impl(request):
    return IMPLS[request.param]


@pytest.mark.parametrize(
    "frame,arg,expected",
    [
        (
            np.zeros((4, 4), np.uint8),
            "frame",
            "height * 3 / 2",
        ),  # 4 rows is not 3/2 of an even height
        (np.zeros((6, 5), np.uint8), "frame", "even width and height"),
        (np.zeros((1, 1), np.uint8), "frame", "even width and height"),
        (np.zeros((8, 5), np.uint8), "frame", "even width and height"),
        (np.zeros((6, 4, 1), np.uint8), "frame", "2-D"),
        (np.zeros((6, 4), np.int16), "frame", "dtype"),
        (np.zeros((6, 4), np.float32), "frame", "uint8"),
        (np.zeros((6, 8), np.uint8)[:, ::2], "frame", "C-contiguous"),
        ([[0] * 4] * 6, "frame", "numpy array"),
        (np.zeros((0, 4), np.uint8), "frame", "even width and height"),
        (np.zeros((49152 + 3, 2), np.uint8), "frame", "at most"),
    ],
)
def test_bad_frames(impl, frame, arg, expected):
    yuv_to_rgb, _, resize = impl
    for call in (lambda: yuv_to_rgb(frame), lambda: resize(frame, [(2, 2)])):
        with pytest.raises(ValueError, match=arg) as err:
            call()
        assert expected in str(err.value)


def test_even_2x3_frame_is_fine_but_odd_width_is_not(impl):
    yuv_to_rgb, _, _ = impl
    assert yuv_to_rgb(np.zeros((3, 2), np.uint8)).shape == (2, 2, 3)


@pytest.mark.parametrize(
    "sizes,expected",
    [
        ([], "1 to 16"),
        ([(2, 2)] * 17, "1 to 16"),
        ([(0, 2)], "positive even"),
        ([(-2, 2)], "positive even"),
        ([(3, 2)], "positive even"),
        ([(2, 5)], "positive even"),
        ([(2, 2, 2)], "(width, height)"),
        (["ab"], "(width, height)"),
        ([(2.0, 2)], "(width, height)"),
        ([(65536, 2)], "positive even"),
    ],
)
def test_bad_sizes(impl, sizes, expected):
    _, _, resize = impl
    with pytest.raises(ValueError, match="sizes") as err:
        resize(GOOD, sizes)
    assert expected in str(err.value)


@pytest.mark.parametrize(
    "kwargs,arg",
    [
        ({"pixel_format": "rgb24"}, "pixel_format"),
        ({"matrix": "bt2020"}, "matrix"),
        ({"dtype": "int32"}, "dtype"),
        ({"layout": "nhwc"}, "layout"),
        ({"dtype": "uint8", "layout": "chw"}, "layout"),
        ({"mode": "zoom"}, "mode"),
        ({"size": (3, 4)}, "size"),
        ({"size": (0, 4)}, "size"),
    ],
)
def test_bad_options(impl, kwargs, arg):
    yuv_to_rgb, _, _ = impl
    with pytest.raises(ValueError, match=f"^{arg}: expected"):
        yuv_to_rgb(GOOD, **kwargs)


@pytest.mark.parametrize(
    "rgb,expected",
    [
        (np.zeros((4, 4), np.uint8), "[height, width, 3]"),
        (np.zeros((3, 4, 3), np.uint8), "even width and height"),
        (np.zeros((4, 4, 4), np.uint8), "[height, width, 3]"),
        (np.zeros((4, 4, 3), np.float16), "uint8 or float32"),
    ],
)
def test_bad_rgb(impl, rgb, expected):
    _, rgb_to_yuv, _ = impl
    with pytest.raises(ValueError, match=r"^rgb: expected") as err:
        rgb_to_yuv(rgb)
    assert expected in str(err.value)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@pytest.mark.parametrize(
    "out,expected",
    [
        (np.empty((4, 4, 3), np.float32), "shape (4, 4, 3) uint8"),
        (np.empty((4, 4), np.uint8), "shape (4, 4, 3) uint8"),
        (_readonly(np.empty((4, 4, 3), np.uint8)), "writable"),
        (np.empty((4, 8, 3), np.uint8)[:, ::2], "C-contiguous"),
    ],
)
def test_bad_out(out, expected):
    with pytest.raises(ValueError, match=r"^out: expected") as err:
        ops.yuv_to_rgb(GOOD, out=out)
    assert expected in str(err.value)


def test_bad_outs_for_resize():
    with pytest.raises(ValueError, match=r"^outs: expected"):
        ops.resize(GOOD, [(2, 2)], outs=[np.empty((3, 2), np.uint8), np.empty((3, 2), np.uint8)])
    with pytest.raises(ValueError, match=r"^outs: expected"):
        ops.resize(GOOD, [(2, 2)], outs=[_readonly(np.empty((3, 2), np.uint8))])
    with pytest.raises(ValueError, match=r"^outs: expected"):
        ops.resize(GOOD, [(2, 2)], outs=[np.empty((3, 4), np.uint8)])


def test_read_only_input_is_fine():
    assert ops.yuv_to_rgb(_readonly(GOOD.copy())).shape == (4, 4, 3)
