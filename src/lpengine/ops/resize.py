"""Multi-output resize of 4:2:0 frames: one source to up to 16 sizes in one call.

Shrinking averages areas, enlarging is bilinear; `stretch` fills the target, `cover` scales to
cover it and crops the centre, `fit` scales to fit inside it and letterboxes with black.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lpengine import _native
from lpengine.ops import frame_args

Size = tuple[int, int]


def resize(
    frame: Any,
    sizes: Sequence[Size],
    *,
    pixel_format: str = "yuv420p",
    mode: str = "stretch",
    full_range: bool = False,
    outs: Sequence[Any] | None = None,
) -> list[Any]:
    """frame: [H * 3 / 2, W] uint8 on host (numpy) or device (CUDA array) -> one frame per
    (width, height) in `sizes`, same layout and device. Native when the core is built."""
    if _native.HAS_NATIVE:
        return list(
            _native.core.resize(
                frame, sizes, pixel_format=pixel_format, mode=mode, full_range=full_range, outs=outs
            )
        )
    results = resize_reference(
        frame, sizes, pixel_format=pixel_format, mode=mode, full_range=full_range
    )
    if outs is None:
        return list(results)
    if len(outs) != len(results):
        raise frame_args.fail("outs", "one array per size", len(outs))
    for o, r in zip(outs, results, strict=True):
        frame_args.out("outs", o, r.shape, "uint8")[...] = r
    return list(outs)


def resize_geometry(
    src_w: int, src_h: int, dst_w: int, dst_h: int, mode: str
) -> tuple[tuple[float, float, float, float], tuple[int, int, int, int]]:
    """((crop x, y, w, h) in the source, (x, y, w, h) of the content in the output), luma pixels."""
    crop = (0.0, 0.0, float(src_w), float(src_h))
    rect = (0, 0, dst_w, dst_h)
    sx, sy = dst_w / src_w, dst_h / src_h
    if mode == "cover":
        scale = max(sx, sy)
        cw, ch = dst_w / scale, dst_h / scale
        crop = ((src_w - cw) / 2, (src_h - ch) / 2, cw, ch)
    elif mode == "fit":
        scale = min(sx, sy)
        # NOTE: C++ lround rounds halves away from zero; Python's round() would not.
        rw = min(max(2 * math.floor(src_w * scale / 2 + 0.5), 2), dst_w)
        rh = min(max(2 * math.floor(src_h * scale / 2 + 0.5), 2), dst_h)
        rect = ((dst_w - rw) // 4 * 2, (dst_h - rh) // 4 * 2, rw, rh)
    return crop, rect


def axis_weights(in_size: int, out_size: int, start: float, length: float) -> NDArray[np.float64]:
    """Dense [out_size, in_size] filter: area overlap when shrinking, bilinear when enlarging."""
    s = length / out_size
    i = np.arange(out_size, dtype=np.float64)[:, None]
    j = np.arange(in_size, dtype=np.float64)[None, :]
    if s > 1.0:
        a = start + i * s
        w = np.clip(np.minimum(a + s, j + 1.0) - np.maximum(a, j), 0.0, None) / s
    else:
        c = np.clip(start + (i + 0.5) * s - 0.5, 0.0, in_size - 1.0)
        j0 = np.floor(c)
        f = c - j0
        w = np.where(j == j0, 1.0 - f, 0.0) + np.where(j == j0 + 1, f, 0.0)
    weights: NDArray[np.float64] = w / w.sum(axis=1, keepdims=True)
    return weights


def _planes(frame: NDArray[np.uint8], fmt: str, w: int, h: int) -> list[NDArray[np.uint8]]:
    """Views of the planes: Y [h, w], then U, V [h/2, w/2] or UV [h/2, w/2, 2]."""
    flat = frame.reshape(-1)
    y = flat[: w * h].reshape(h, w)
    if fmt == "nv12":
        return [y, flat[w * h :].reshape(h // 2, w // 2, 2)]
    q = (w // 2) * (h // 2)
    return [
        y,
        flat[w * h : w * h + q].reshape(h // 2, w // 2),
        flat[w * h + q :].reshape(h // 2, w // 2),
    ]


def resize_reference(
    frame: Any,
    sizes: Sequence[Size],
    *,
    pixel_format: str = "yuv420p",
    mode: str = "stretch",
    full_range: bool = False,
) -> list[NDArray[np.uint8]]:
    """The numpy oracle of `resize`: float64 dense filters, rounded half up."""
    frame_args.choice("pixel_format", pixel_format, frame_args.PIXEL_FORMATS)
    frame_args.choice("mode", mode, frame_args.MODES)
    src, sw, sh = frame_args.frame("frame", frame)
    targets = frame_args.sizes("sizes", sizes)
    src_planes = _planes(src, pixel_format, sw, sh)
    results = []
    for dw, dh in targets:
        out = np.empty((dh * 3 // 2, dw), np.uint8)
        (cx, cy, cw, ch), (rx, ry, rw, rh) = resize_geometry(sw, sh, dw, dh, mode)
        for p, (sp, dp) in enumerate(
            zip(src_planes, _planes(out, pixel_format, dw, dh), strict=True)
        ):
            d = 1 if p == 0 else 2
            dp[...] = (0 if full_range else 16) if p == 0 else 128
            wy = axis_weights(sp.shape[0], rh // d, cy / d, ch / d)
            wx = axis_weights(sp.shape[1], rw // d, cx / d, cw / d)
            channels = sp.reshape(sp.shape[0], sp.shape[1], -1)
            scaled = np.stack(
                [wy @ channels[..., c].astype(np.float64) @ wx.T for c in range(channels.shape[2])],
                axis=-1,
            ).reshape(rh // d, rw // d, *sp.shape[2:])
            dp[ry // d : (ry + rh) // d, rx // d : (rx + rw) // d] = np.clip(
                np.floor(scaled + 0.5), 0, 255
            ).astype(np.uint8)
        results.append(out)
    return results
