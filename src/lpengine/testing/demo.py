"""`python -m lpengine.serve --demo`: the tiny models of every pipeline written into a folder
and served, so a gateway (or curl) can call each AI route on a laptop without downloading.

    python -m lpengine.serve --demo                      # models in <tmp>/lpengine-demo-models
    python -m lpengine.serve --demo -aiModelsDir DIR     # ... or in DIR
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from lpengine.testing.tiny_models import TINY_MODELS, write_tiny_models

DEMO_FLAG = "--demo"
BATCHING = {"text-to-image": {"max_batch_size": 8, "max_wait_ms": 5}}


def demo_argv(argv: list[str]) -> list[str]:
    """`argv` without `--demo`, with `-aiModelsDir` and `-aiModels` for the tiny models (written
    first, unless already there); ValueError when `argv` names its own `-aiModels`."""
    rest = [a for a in argv if a != DEMO_FLAG]
    if any(a.lstrip("-").split("=")[0] == "aiModels" for a in rest):
        raise ValueError(f"{DEMO_FLAG} serves the tiny models: drop -aiModels")
    folder = Path(tempfile.gettempdir()) / "lpengine-demo-models"
    for i, a in enumerate(rest):
        if a.lstrip("-").split("=")[0] == "aiModelsDir":
            value = a.split("=", 1)[1] if "=" in a else (rest[i + 1] if i + 1 < len(rest) else "")
            folder = Path(value).expanduser()
            break
    else:
        rest += ["-aiModelsDir", str(folder)]
    write_tiny_models(folder)
    models = [
        {"pipeline": pipeline, "model_id": model_id, "warm": True, "capacity": 4,
         "optimization_flags": BATCHING.get(pipeline, {})}
        for pipeline, model_id in TINY_MODELS.items()
    ]  # fmt: skip
    return [*rest, "-aiModels", json.dumps(models)]
