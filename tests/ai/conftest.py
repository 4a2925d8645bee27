"""Fixtures for the AI tests: the tiny models' folder (a module may override it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ai.models import models_dir


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's folder of tiny models, in HF layout."""
    return models_dir(tmp_path_factory)
