"""Synthetic test frames for the op benches: texture, gradients and motion, no files."""

from __future__ import annotations

import numpy as np


def pattern_frame(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A yuv420p frame [height * 3 / 2, width] with gradients, stripes and noise."""
    rng = np.random.default_rng(seed)
    x = np.arange(width)[None, :]
    y = np.arange(height)[:, None]
    luma = (16 + (x * 219 // max(width - 1, 1) + 40 * ((x // 8 + y // 8) % 2)) % 220).astype(
        np.int32
    )
    luma = np.clip(luma + rng.integers(-12, 13, (height, width)), 16, 235)
    cw, ch = width // 2, height // 2
    u = 128 + (np.arange(cw)[None, :] * 96 // max(cw, 1) - 48) + 0 * np.arange(ch)[:, None]
    v = 128 + (np.arange(ch)[:, None] * 96 // max(ch, 1) - 48) + 0 * np.arange(cw)[None, :]
    return (
        np.concatenate([luma.reshape(-1), u.reshape(-1), v.reshape(-1)])
        .astype(np.uint8)
        .reshape(height * 3 // 2, width)
    )
