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


def to_model_input(frame: NDArray[np.uint8], width: int, height: int) -> Frames:
    """frame: [H * 3 / 2, W] uint8 yuv420p, host memory -> (1, height, width, 3) float32."""
    rgb = ops.yuv_to_rgb(frame, matrix=MATRIX, dtype="float32", size=(width, height), mode="cover")
    return np.asarray(rgb)[None]


def from_model_output(frames: Frames) -> NDArray[np.uint8]:
    """frames: (1, h, w, 3) float RGB in [0, 1] -> [h * 3 / 2, w] uint8 yuv420p."""
    if frames.ndim != 4 or frames.shape[0] != 1 or frames.shape[3] != 3:
        raise ValueError(f"frames: expected shape (1, H, W, 3), got {frames.shape}")
    # NOTE: in place over one float buffer: about 3x cheaper than np.clip(...).astype(...)
    scaled = np.multiply(frames[0], 255.0, dtype=np.float32)
    np.add(scaled, 0.5, out=scaled)
    np.clip(scaled, 0.0, 255.0, out=scaled)
    rgb = np.empty(scaled.shape, np.uint8)
    np.copyto(rgb, scaled, casting="unsafe")
    return np.asarray(ops.rgb_to_yuv(rgb, matrix=MATRIX))
