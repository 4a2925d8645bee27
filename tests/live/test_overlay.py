"""The loading overlay (live/overlay.py): the frame dimmed, a spinner that turns with the clock,
in place, at every BaseParams size."""

from __future__ import annotations

import numpy as np
import pytest

from lpengine.live.overlay import DIM, SPIN_HZ, STEPS, LoadingOverlay, spinner_alphas


def frames(width: int, height: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((1, height, width, 3), dtype=np.float32)


def spinner_box(o: LoadingOverlay) -> tuple[slice, slice]:
    s = o._alphas.shape[1]
    top, left = (o.height - s) // 2, (o.width - s) // 2
    return slice(top, top + s), slice(left, left + s)


@pytest.mark.parametrize(("width", "height"), [(384, 384), (512, 512), (1024, 448)])
def test_the_frame_is_dimmed_and_the_spinner_drawn_in_place(width, height):
    o = LoadingOverlay(width, height)
    x = frames(width, height)
    before = x.copy()
    out = o(x, 0.0)
    assert out is x
    rows, cols = spinner_box(o)
    outside = np.ones((height, width), bool)
    outside[rows, cols] = False
    np.testing.assert_allclose(out[0][outside], before[0][outside] * DIM, rtol=1e-6)
    box, dimmed = out[0, rows, cols], before[0, rows, cols] * DIM
    assert (box >= dimmed - 1e-6).all() and (box <= 1).all()
    assert box.max() > 0.99  # the spinner's head is white
    centre = box[box.shape[0] // 2, box.shape[1] // 2]
    np.testing.assert_allclose(centre, dimmed[box.shape[0] // 2, box.shape[1] // 2], rtol=1e-6)


def test_the_spinner_follows_the_clock():
    o = LoadingOverlay(512, 512)
    rows, cols = spinner_box(o)

    def box(t: float) -> np.ndarray:
        return o(np.zeros((1, 512, 512, 3), np.float32), t)[0, rows, cols]

    turn = 1 / SPIN_HZ
    assert [o.step(t) for t in (0.0, turn / 4, turn / 2, turn)] == [0, STEPS // 4, STEPS // 2, 0]
    assert not np.allclose(box(0.0), box(turn / 4))
    np.testing.assert_array_equal(box(3.0 * turn + 0.001), box(0.001))
    # A quarter turn later the picture is the first one turned a quarter, clockwise.
    np.testing.assert_allclose(box(turn / 4), np.rot90(box(0.0), k=-1), atol=0.02)


def test_the_ring_has_a_bright_head_and_a_tail_fading_behind_it():
    a = spinner_alphas(64)[0, :, :, 0]  # head at 12 o'clock, turning clockwise
    assert a.shape == (64, 64) and a.dtype == np.float32
    assert a[32, 32] == 0 and a[0, 0] == 0  # the hole and the corners
    top, right, left = a[3, 31:33].max(), a[31:33, 60].max(), a[31:33, 3].max()
    # 9 o'clock is a quarter turn behind the head (the tail), 3 o'clock three quarters: its end.
    assert top > 0.9 and left > 0.6 and right < 0.05


def test_a_frame_of_another_size_is_refused():
    o = LoadingOverlay(512, 512)
    with pytest.raises(ValueError, match=r"frames: expected \(1, 512, 512, 3\) float32"):
        o(frames(384, 384), 0.0)
