"""`python -m lpengine.serve --demo`: every tiny model is written and configured to be served."""

from __future__ import annotations

import pytest

from lpengine.serve.options import parse
from lpengine.testing import TINY_MODELS
from tests.ai.models import models_dir


def test_demo_serves_every_tiny_model_from_the_folder(tmp_path_factory):
    root = models_dir(tmp_path_factory)
    options = parse(["--demo", "-aiModelsDir", str(root), "-dataDir", str(root / "data")])
    config = options.engine
    assert config.models_dir == root
    served = {(m.pipeline, m.model_id) for m in config.ai_models}
    assert served == set(TINY_MODELS.items())
    assert all(m.warm for m in config.ai_models)


def test_demo_refuses_models_of_its_own(capsys):
    with pytest.raises(SystemExit) as stop:
        parse(["--demo", "-aiModels", "text-to-image:x:true"])
    assert stop.value.code == 2
    assert "--demo serves the tiny models: drop -aiModels" in capsys.readouterr().err
