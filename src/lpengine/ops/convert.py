"""Colour conversion between 4:2:0 YUV frames (yuv420p, nv12) and RGB.

BT.601 or BT.709, limited (16-235) or full range. YUV -> RGB gives packed RGB24 uint8, or float32 /
float16 in [0, 1] packed [H, W, 3] ('hwc') or planar [3, H, W] ('chw'), optionally resized on the
way (`size`, `mode`) as a model's input wants. RGB -> YUV takes packed uint8, or float32 in [0, 1]
that is rounded to uint8 code values on the way (a model's output, with no uint8 copy of it).
Chroma is replicated over each 2x2 block going to RGB and averaged over it coming back.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from lpengine import _native
from lpengine.ops import frame_args
from lpengine.ops.resize import _planes, resize_reference

_WEIGHTS = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}


def yuv_to_rgb(
    frame: Any,
    *,
    pixel_format: str = "yuv420p",
    matrix: str = "bt709",
    full_range: bool = False,
    dtype: str = "uint8",
    layout: str = "hwc",
    size: tuple[int, int] | None = None,
    mode: str = "stretch",
    out: Any = None,
) -> Any:
    """frame: [H * 3 / 2, W] uint8, host or device -> RGB [H, W, 3] or [3, H, W] of `dtype`
    (of `size` = (w, h) when given), same device. Native when the core is built."""
    if _native.HAS_NATIVE:
        return _native.core.yuv_to_rgb(
            frame,
            pixel_format=pixel_format,
            matrix=matrix,
            full_range=full_range,
            dtype=dtype,
            layout=layout,
            size=size,
            mode=mode,
            out=out,
        )
    result = yuv_to_rgb_reference(
        frame,
        pixel_format=pixel_format,
        matrix=matrix,
        full_range=full_range,
        dtype=dtype,
        layout=layout,
        size=size,
        mode=mode,
    )
    if out is None:
        return result
    frame_args.out("out", out, result.shape, dtype)[...] = result
    return out


def rgb_to_yuv(
    rgb: Any,
    *,
    pixel_format: str = "yuv420p",
    matrix: str = "bt709",
    full_range: bool = False,
    out: Any = None,
) -> Any:
    """rgb: packed [H, W, 3] uint8, or float32 in [0, 1] (rounded to uint8 code values first:
    x * 255 half up, clamped), host or device -> 4:2:0 frame [H * 3 / 2, W] uint8."""
    if _native.HAS_NATIVE:
        return _native.core.rgb_to_yuv(
            rgb, pixel_format=pixel_format, matrix=matrix, full_range=full_range, out=out
        )
    result = rgb_to_yuv_reference(
        rgb, pixel_format=pixel_format, matrix=matrix, full_range=full_range
    )
    if out is None:
        return result
    frame_args.out("out", out, result.shape, "uint8")[...] = result
    return out


def _ranges(full_range: bool) -> tuple[float, float, float]:
    """(luma offset, luma span, chroma span) in 8-bit code values."""
    return (0.0, 255.0, 255.0) if full_range else (16.0, 219.0, 224.0)


def yuv_to_rgb_reference(
    frame: Any,
    *,
    pixel_format: str = "yuv420p",
    matrix: str = "bt709",
    full_range: bool = False,
    dtype: str = "uint8",
    layout: str = "hwc",
    size: tuple[int, int] | None = None,
    mode: str = "stretch",
) -> NDArray[Any]:
    """The numpy oracle of `yuv_to_rgb`: float64 maths, uint8 rounded half up."""
    fmt = frame_args.choice("pixel_format", pixel_format, frame_args.PIXEL_FORMATS)
    kr, kb = _WEIGHTS[frame_args.choice("matrix", matrix, frame_args.MATRICES)]
    frame_args.choice("dtype", dtype, frame_args.DTYPES)
    frame_args.choice("layout", layout, frame_args.LAYOUTS)
    frame_args.choice("mode", mode, frame_args.MODES)
    if dtype == "uint8" and layout == "chw":
        raise frame_args.fail("layout", "'hwc' for uint8 output", "'chw'")
    src, w, h = frame_args.frame("frame", frame)
    if size is not None and tuple(size) != (w, h):
        w, h = frame_args.size("size", size)
        src = resize_reference(src, [(w, h)], pixel_format=fmt, mode=mode, full_range=full_range)[0]
    planes = _planes(src, fmt, w, h)
    u, v = (planes[1][..., 0], planes[1][..., 1]) if fmt == "nv12" else (planes[1], planes[2])
    y_off, y_span, c_span = _ranges(full_range)
    yy = (planes[0].astype(np.float64) - y_off) / y_span
    cu = np.repeat(np.repeat((u.astype(np.float64) - 128.0) / c_span, 2, 0), 2, 1)
    cv = np.repeat(np.repeat((v.astype(np.float64) - 128.0) / c_span, 2, 0), 2, 1)
    kg = 1.0 - kr - kb
    r = yy + 2 * (1 - kr) * cv
    g = yy - 2 * kb * (1 - kb) / kg * cu - 2 * kr * (1 - kr) / kg * cv
    b = yy + 2 * (1 - kb) * cu
    rgb = np.clip(np.stack([r, g, b], axis=0 if layout == "chw" else -1), 0.0, 1.0)
    if dtype == "uint8":
        return np.floor(rgb * 255.0 + 0.5).astype(np.uint8)
    return rgb.astype(dtype)


def rgb_to_yuv_reference(
    rgb: Any, *, pixel_format: str = "yuv420p", matrix: str = "bt709", full_range: bool = False
) -> NDArray[np.uint8]:
    """The numpy oracle of `rgb_to_yuv`: float64 maths, rounded half up."""
    fmt = frame_args.choice("pixel_format", pixel_format, frame_args.PIXEL_FORMATS)
    kr, kb = _WEIGHTS[frame_args.choice("matrix", matrix, frame_args.MATRICES)]
    a = frame_args.array("rgb", rgb)
    if a.dtype == np.float32:
        # NOTE: float32 maths, as the native op rounds: x * 255 + 0.5, clamped, truncated.
        codes = np.clip(np.nan_to_num(a * np.float32(255.0) + np.float32(0.5)), 0.0, 255.0)
        a = codes.astype(np.uint8)
    if a.dtype != np.uint8:
        raise frame_args.fail("rgb", "dtype uint8 or float32", a.dtype)
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] % 2 or a.shape[1] % 2 or 0 in a.shape:
        raise frame_args.fail(
            "rgb", "shape [height, width, 3] with even width and height", f"shape {a.shape}"
        )
    h, w = a.shape[:2]
    y_off, y_span, c_span = _ranges(full_range)
    kg = 1.0 - kr - kb
    x = a.astype(np.float64) / 255.0
    luma = kr * x[..., 0] + kg * x[..., 1] + kb * x[..., 2]
    cb = (x[..., 2] - luma) / (2 * (1 - kb))
    cr = (x[..., 0] - luma) / (2 * (1 - kr))

    def block_mean(c: NDArray[np.float64]) -> NDArray[np.float64]:
        mean: NDArray[np.float64] = c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        return mean

    def code(v: NDArray[np.float64]) -> NDArray[np.uint8]:
        return np.clip(np.floor(v + 0.5), 0, 255).astype(np.uint8)

    out = np.empty((h * 3 // 2, w), np.uint8)
    planes = _planes(out, fmt, w, h)
    planes[0][...] = code(y_off + y_span * luma)
    u = code(128.0 + c_span * block_mean(cb))
    v = code(128.0 + c_span * block_mean(cr))
    if fmt == "nv12":
        planes[1][..., 0], planes[1][..., 1] = u, v
    else:
        planes[1][...], planes[2][...] = u, v
    return out
