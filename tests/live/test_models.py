"""Live models from -aiModels (`lpengine.live.models` through `LiveStreams.load_models`): the tiny
Stable Diffusion loaded by the real loader in the background, advertised cold while it loads
(a start is refused as with no free slot), warm with its capacity once loaded; a model that
cannot load is not advertised and the log says why."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from lpengine.ai.model_config import AIModelConfig
from lpengine.capability_registry import CapabilityRegistry
from lpengine.live import pipelines
from lpengine.live.diffusion import StreamDiffusionPipeline
from lpengine.live.models import LIVE, live_entries, load_diffusion
from lpengine.live.streams import InsufficientCapacity, LiveStreams
from lpengine.live.trickle import TrickleServer
from lpengine.testing.tiny_models import TINY_SD
from tests.ai.models import models_dir

CAP = 35


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return models_dir(tmp_path_factory)


def entry(model_id: str, **kw: Any) -> AIModelConfig:
    return AIModelConfig(pipeline=LIVE, model_id=model_id, warm=True, **kw)


def offer(registry: CapabilityRegistry) -> dict[str, tuple[bool, int]]:
    models = registry.advertised().per_capability.get(CAP, {})
    return {name: (m.warm, m.capacity) for name, m in models.items()}


def test_only_live_entries_that_need_a_folder_are_loaded():
    configs = [
        entry("noop"),
        entry(TINY_SD),
        AIModelConfig(pipeline="image-to-image", model_id=TINY_SD),
    ]
    assert [c.model_id for c in live_entries(configs)] == [TINY_SD]


def test_a_model_loads_in_the_background_and_is_refused_until_loaded(root):
    registry = CapabilityRegistry("1.0")
    live = LiveStreams(TrickleServer(), registry, "https://127.0.0.1:1")
    gate = threading.Event()
    loaders: list[str] = []

    def gated(folder: Path) -> pipelines.Factory:
        loaders.append(threading.current_thread().name)
        assert gate.wait(60)
        return load_diffusion(folder)

    live.load_models(root, [entry(TINY_SD, capacity=2)], gated)
    assert offer(registry) == {"noop": (True, 4), TINY_SD: (False, 0)}
    with pytest.raises(InsufficientCapacity, match="still loading"):
        live.reserve(TINY_SD)
    live.load_models(root, [entry(TINY_SD, capacity=2)], gated)  # a second call: nothing
    gate.set()
    assert live.wait_for_models(120)
    assert loaders == ["live-model-loader"]
    assert offer(registry) == {"noop": (True, 4), TINY_SD: (True, 2)}
    slots = [live.reserve(TINY_SD), live.reserve(TINY_SD)]
    assert offer(registry)[TINY_SD] == (True, 0)
    with pytest.raises(InsufficientCapacity, match="all 2"):
        live.reserve(TINY_SD)
    pipe = live.pipelines[TINY_SD]({"width": 384, "height": 384, "prompt": "a cat"})
    assert isinstance(pipe, StreamDiffusionPipeline) and pipe.params["prompt"] == "a cat"
    with pytest.raises(ValueError, match="strength"):
        live.pipelines[TINY_SD]({"strength": 2})
    for slot in slots:
        live.release(slot)
    assert offer(registry)[TINY_SD] == (True, 2)


def test_a_model_that_cannot_load_is_not_advertised_and_the_log_says_why(root, caplog):
    registry = CapabilityRegistry("1.0")
    live = LiveStreams(TrickleServer(), registry, "https://127.0.0.1:1")
    configs = [entry("nobody/missing"), entry("remote/sd", url="http://runner:8000")]
    with caplog.at_level(logging.ERROR, logger="lpengine.live.models"):
        live.load_models(root, configs)
        assert live.wait_for_models(60)
    assert offer(registry) == {"noop": (True, 4)}
    messages = [r.getMessage() for r in caplog.records]
    assert any("nobody/missing is not advertised" in m and "not in" in m for m in messages)
    assert any("remote/sd is not advertised: external runners" in m for m in messages)
    with pytest.raises(InsufficientCapacity, match="no live pipeline 'nobody/missing'"):
        live.reserve("nobody/missing")
