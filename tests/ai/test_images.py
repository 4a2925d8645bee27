"""lpengine's PNG writer: what it writes decodes (with PIL) to exactly the pixels given."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from lpengine.ai.images import encode_png, png_data_url

RNG = np.random.default_rng(7)


@pytest.mark.parametrize(
    ("shape", "mode"),
    [
        ((64, 48, 3), "RGB"),
        ((5, 7, 4), "RGBA"),
        ((9, 3), "L"),
        ((4, 6, 2), "LA"),
        ((1, 1, 3), "RGB"),
    ],
)
def test_png_round_trip(shape: tuple[int, ...], mode: str) -> None:
    pixels = RNG.integers(0, 256, shape, dtype=np.uint8)
    decoded = Image.open(io.BytesIO(encode_png(pixels)))
    assert decoded.mode == mode
    assert np.array_equal(np.asarray(decoded), pixels)


def test_png_of_a_smooth_image_is_compressed() -> None:
    y, x = np.mgrid[0:256, 0:256]
    pixels = np.stack([x, y, (x + y) // 2], axis=-1).astype(np.uint8)
    data = encode_png(pixels)
    assert len(data) < pixels.nbytes // 10  # the Up filter turns the gradient into runs
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels)


def test_png_data_url_of_a_pil_image() -> None:
    image = Image.fromarray(RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)).convert("P")
    url = png_data_url(image)
    assert url.startswith("data:image/png;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert np.array_equal(np.asarray(decoded), np.asarray(image.convert("RGB")))


BAD = [
    np.zeros((4, 4, 3), np.float32),
    np.zeros((4, 4, 5), np.uint8),
    np.zeros((0, 4, 3), np.uint8),
    np.zeros(4, np.uint8),
]


@pytest.mark.parametrize("pixels", BAD)
def test_png_refuses_what_it_cannot_write(pixels: np.ndarray) -> None:
    with pytest.raises(ValueError, match="PNG: expected"):
        encode_png(pixels)
