"""Decoded frames to a live pipeline's tensors and back, with the native ops (no PIL).

In: a yuv420p frame [H * 3 / 2, W] uint8 (PyAV's `to_ndarray()` layout), cover-resized to the
pipeline's size and converted in one native call to RGB float32 in [0, 1], shape (1, h, w, 3).
Out: the pipeline's (1, h, w, 3) float RGB back to yuv420p [h * 3 / 2, w] uint8.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from lpengine import ops
from lpengine.live.pipelines import Frames

MATRIX = "bt709"  # NOTE: both directions use one matrix, so an echo is (nearly) lossless
BLOCK_BYTES = 192 * 1024  # float rows converted at a time: well inside a core's L2 cache


def to_model_input(frame: NDArray[np.uint8], width: int, height: int) -> Frames:
    """frame: [H * 3 / 2, W] uint8 yuv420p, host memory -> (1, height, width, 3) float32.

    A fresh array per frame: a pipeline may keep frames in flight across calls."""
    rgb = ops.yuv_to_rgb(frame, matrix=MATRIX, dtype="float32", size=(width, height), mode="cover")
    return np.asarray(rgb)[None]


class OutputConverter:
    """The pipeline's float frames back to yuv420p, through buffers kept across frames (a
    stream's output size never changes), so no frame pays for fresh pages.

    NOTE: the yuv420p array returned is overwritten by the next call: the encoder copies it
    into its own frame before then."""

    def __init__(self) -> None:
        self._scaled: NDArray[np.float32] | None = None
        self._rgb: NDArray[np.uint8] | None = None
        self._yuv: NDArray[np.uint8] | None = None

    def __call__(self, frames: Frames) -> NDArray[np.uint8]:
        """frames: (1, h, w, 3) float RGB in [0, 1] (values outside are clamped), host memory
        -> [h * 3 / 2, w] uint8 yuv420p."""
        if frames.ndim != 4 or frames.shape[0] != 1 or frames.shape[3] != 3:
            raise ValueError(f"frames: expected shape (1, H, W, 3), got {frames.shape}")
        h, w = frames.shape[1:3]
        if h % 2 or w % 2 or not h or not w:
            raise ValueError(f"frames: expected an even height and width, got {w}x{h}")
        if self._rgb is None or self._rgb.shape[:2] != (h, w):
            rows = max(1, BLOCK_BYTES // (w * 3 * 4))
            self._scaled = np.empty((rows, w, 3), np.float32)
            self._rgb = np.empty((h, w, 3), np.uint8)
            self._yuv = np.empty((h * 3 // 2, w), np.uint8)
        assert self._scaled is not None and self._yuv is not None
        rows, src = self._scaled.shape[0], frames[0]
        # NOTE: four in-place passes per block of rows that stays in the L2 cache (about 1.6x
        # cheaper than over the whole frame, 3x than np.clip(...).astype(...)); x * 255 + 0.5
        # truncated is round-half-up.
        for top in range(0, h, rows):
            block = self._scaled[: min(rows, h - top)]
            np.multiply(src[top : top + rows], 255.0, out=block, casting="unsafe")
            np.add(block, 0.5, out=block)
            np.clip(block, 0.0, 255.0, out=block)
            np.copyto(self._rgb[top : top + rows], block, casting="unsafe")
        return np.asarray(ops.rgb_to_yuv(self._rgb, matrix=MATRIX, out=self._yuv))


def from_model_output(frames: Frames) -> NDArray[np.uint8]:
    """frames: (1, h, w, 3) float RGB in [0, 1] -> a new [h * 3 / 2, w] uint8 yuv420p array."""
    return OutputConverter()(frames).copy()
