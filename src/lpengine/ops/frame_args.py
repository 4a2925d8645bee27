"""Argument checks for the numpy reference ops, worded like the native core's.

Every bad argument is a ValueError that names it, what was expected and what came.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

MAX_SIDE = 32768
MAX_OUTPUTS = 16
PIXEL_FORMATS = ("yuv420p", "nv12")
MATRICES = ("bt601", "bt709")
MODES = ("stretch", "cover", "fit")
DTYPES = ("uint8", "float32", "float16")
LAYOUTS = ("hwc", "chw")


def fail(arg: str, expected: str, got: object) -> ValueError:
    return ValueError(f"{arg}: expected {expected}, got {got}")


def choice(arg: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise fail(arg, " or ".join(repr(a) for a in allowed), repr(value))
    return value


def array(arg: str, value: Any, *, writable: bool = False) -> NDArray[Any]:
    if not isinstance(value, np.ndarray):
        raise fail(arg, "a numpy array or a CUDA array", type(value).__name__)
    if value.dtype not in (np.uint8, np.float32, np.float16):
        raise fail(arg, "dtype uint8, float32 or float16", value.dtype)
    if not value.flags.c_contiguous:
        raise fail(
            arg, "a C-contiguous array", "a non-contiguous one (use numpy.ascontiguousarray)"
        )
    if writable and not value.flags.writeable:
        raise fail(arg, "a writable array", "a read-only one")
    return value


def frame(arg: str, value: Any) -> tuple[NDArray[np.uint8], int, int]:
    """A 4:2:0 frame [height * 3 / 2, width] uint8 -> (frame, width, height)."""
    f = array(arg, value)
    if f.dtype != np.uint8:
        raise fail(arg, "dtype uint8", f.dtype)
    if f.ndim != 2:
        raise fail(arg, "a 2-D [height * 3 / 2, width] array", f"shape {f.shape}")
    rows, width = f.shape
    height = rows * 2 // 3
    if rows == 0 or rows % 3 or height % 2 or width == 0 or width % 2:
        raise fail(
            arg,
            "shape [height * 3 / 2, width] with even width and height (4:2:0)",
            f"shape {f.shape}",
        )
    if width > MAX_SIDE or height > MAX_SIDE:
        raise fail(arg, f"width and height of at most {MAX_SIDE}", f"shape {f.shape}")
    return f, width, height


def size(arg: str, value: Any) -> tuple[int, int]:
    """A (width, height) pair of positive even ints."""
    try:
        w, h = value
        ok = all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in (w, h))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise fail(arg, "(width, height) pairs of ints", repr(value))
    w, h = int(w), int(h)
    if w <= 0 or h <= 0 or w % 2 or h % 2 or w > MAX_SIDE or h > MAX_SIDE:
        raise fail(arg, f"positive even width and height up to {MAX_SIDE}", f"{w}x{h}")
    return w, h


def sizes(arg: str, value: Any) -> list[tuple[int, int]]:
    items = list(value)
    if not 1 <= len(items) <= MAX_OUTPUTS:
        raise fail(arg, f"1 to {MAX_OUTPUTS} (width, height) pairs", len(items))
    return [size(arg, item) for item in items]


def out(arg: str, value: Any, shape: tuple[int, ...], dtype: str) -> NDArray[Any]:
    o = array(arg, value, writable=True)
    if o.shape != shape or o.dtype != np.dtype(dtype):
        raise fail(arg, f"shape {shape} {dtype}", f"shape {o.shape} {o.dtype}")
    return o
