"""The loading overlay: what a live stream shows while its pipeline reloads (ai-api.md §9.5).

Each input frame, already in the pipeline's layout, is dimmed and gets a spinner in the middle:
a ring whose bright head turns SPIN_HZ times a second by the clock it is given (so it turns at
one speed whatever the frame rate), with a tail fading behind it. The spinner's alpha is drawn
once per frame size for each of STEPS head angles over the small square it covers, so a frame
costs one multiply over the frame and one blend over that square (about 1/36 of a 512x512
frame). Overlay frames are written in place: the frame is the stream's own, never kept.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from lpengine.live.pipelines import HostFrames

DIM = 0.4  # what the input's brightness is multiplied by
SPIN_HZ = 1.0  # turns a second
STEPS = 48  # head angles drawn in advance: 7.5 degrees apart
TAIL = 0.75  # of a turn behind the head, fading to nothing
RADIUS = 1 / 12  # outer radius, of the frame's shorter side
THICKNESS = 0.28  # ring width, of the outer radius


def spinner_alphas(size: int) -> NDArray[np.float32]:
    """(STEPS, size, size, 1) float32 alpha in [0, 1]: the ring with its head at step k's angle
    (clockwise from 12 o'clock), anti-aliased over a pixel at both edges."""
    centre = (size - 1) / 2
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) - centre
    r = np.hypot(x, y)
    outer = size / 2
    inner = outer * (1 - THICKNESS)
    ring = np.clip(np.minimum(outer - r, r - inner) + 0.5, 0, 1)
    turn = (np.arctan2(x, -y) / (2 * np.pi)) % 1.0  # 0 at 12 o'clock, clockwise
    heads = np.arange(STEPS, dtype=np.float32)[:, None, None] / STEPS
    behind = (heads - turn[None]) % 1.0  # how far behind the head, in turns
    fade = np.clip(1 - behind / TAIL, 0, 1)
    alphas: NDArray[np.float32] = (fade * ring[None]).astype(np.float32)
    return alphas[..., None]


class LoadingOverlay:
    """Dims frames of one size and draws the spinner on them."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        size = max(8, round(min(width, height) * RADIUS) * 2)
        self._top, self._left = (height - size) // 2, (width - size) // 2
        self._alphas = spinner_alphas(size)
        self._size = size
        self._scratch = np.empty((size, size, 3), np.float32)

    def step(self, time_s: float) -> int:
        """Which of the STEPS head angles shows at `time_s` (any clock, in seconds)."""
        return int(time_s * SPIN_HZ * STEPS) % STEPS

    def __call__(self, frames: HostFrames, time_s: float) -> HostFrames:
        """frames: (1, height, width, 3) float32 RGB in [0, 1], host memory; dimmed, with the
        spinner at `time_s`'s angle, in place; returns `frames`."""
        if frames.shape != (1, self.height, self.width, 3) or frames.dtype != np.float32:
            raise ValueError(
                f"frames: expected (1, {self.height}, {self.width}, 3) float32, "
                f"got {frames.shape} {frames.dtype}"
            )
        np.multiply(frames, DIM, out=frames)
        t, left, s = self._top, self._left, self._size
        box = frames[0, t : t + s, left : left + s]
        alpha = self._alphas[self.step(time_s)]
        # NOTE: box + alpha * (1 - box): white over the dimmed frame, two passes in place.
        np.subtract(1.0, box, out=self._scratch)
        self._scratch *= alpha
        box += self._scratch
        return frames
