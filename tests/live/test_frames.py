"""`InputConverter`: frames into reused arrays, never into one a pipeline still holds."""

from __future__ import annotations

import weakref

import numpy as np
import torch

from lpengine.live.frames import InputConverter, to_model_input


def _frame(value: int) -> np.ndarray:
    yuv = np.full((96, 64), 128, np.uint8)
    yuv[:64] = value
    return yuv


def test_a_released_array_is_reused_and_converts_like_a_fresh_one():
    convert = InputConverter()
    first = convert(_frame(50), 64, 64)
    pooled = weakref.ref(first.base)  # NOTE: a weak one: holding first.base keeps it in use
    del first
    again = convert(_frame(200), 64, 64)
    assert again.base is pooled()  # the same array, no new pages
    np.testing.assert_array_equal(again, to_model_input(_frame(200), 64, 64))


def test_arrays_a_pipeline_keeps_are_never_overwritten():
    convert = InputConverter()
    kept_view = convert(_frame(30), 64, 64)
    kept_tensor = torch.from_numpy(convert(_frame(90), 64, 64))
    kept_slice = convert(_frame(150), 64, 64)[0, :8]
    expected = [to_model_input(_frame(v), 64, 64) for v in (30, 90, 150)]
    for value in range(160, 240, 10):  # more frames than the pool holds
        convert(_frame(value), 64, 64)
    np.testing.assert_array_equal(kept_view, expected[0])
    np.testing.assert_array_equal(kept_tensor.numpy(), expected[1])
    np.testing.assert_array_equal(kept_slice, expected[2][0, :8])


def test_a_new_size_gets_new_arrays():
    convert = InputConverter()
    small = convert(_frame(60), 64, 64)
    del small
    assert convert(_frame(60), 64, 32).shape == (1, 32, 64, 3)
