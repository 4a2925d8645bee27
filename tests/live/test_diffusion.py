"""The StreamDiffusion-style live pipeline on the tiny random-weight Stable Diffusion of
`lpengine.testing`, loaded from its folder by the real loader: frames in flight, one UNet pass a
frame, updates without reloading, refusals, and a live stream through it."""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from lpengine.ai.model_dir import snapshot_dir
from lpengine.live.diffusion import StreamDiffusionModel, StreamDiffusionPipeline
from lpengine.live.streams import LiveStreams
from lpengine.testing.tiny_models import TINY_SD
from tests.ai.models import models_dir
from tests.live.clips import ts_segments
from tests.live.inprocess import Node, collect, events, feed, run_clean

SIZE = 384


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot_dir(models_dir(tmp_path_factory), TINY_SD)


@pytest.fixture(scope="module")
def model(folder: Path) -> StreamDiffusionModel:
    return StreamDiffusionModel(folder)


@pytest.fixture(scope="module")
def pipe(model: StreamDiffusionModel) -> StreamDiffusionPipeline:
    return StreamDiffusionPipeline(model, {"width": SIZE, "height": SIZE, "prompt": "a cat"})


def frame(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((1, SIZE, SIZE, 3), dtype=np.float32)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal but for CPU kernels' float noise (about 1e-5 between identical calls)."""
    return float(np.abs(a - b).max()) < 1e-4


def run(p: StreamDiffusionPipeline, n: int) -> list[np.ndarray]:
    return [p.process(frame(i)) for i in range(n)]


def test_frames_are_in_flight_for_steps_minus_one_calls_with_one_unet_pass_each(pipe):
    pipe.update(pipe.validate({"num_inference_steps": 2, "strength": 0.6, "seed": 1}))
    assert len(set(pipe._timesteps)) == 2
    calls = pipe.unet_calls
    out = run(pipe, 3)
    assert pipe.unet_calls - calls == 3
    assert [np.array_equal(o, frame(i)) for i, o in enumerate(out)] == [True, False, False]
    for o in out[1:]:
        assert o.shape == (1, SIZE, SIZE, 3) and o.dtype == np.float32
        assert o.min() >= 0 and o.max() <= 1 and o.std() > 0
    # The same params and frames again: the same output (the noise is fixed by the seed).
    pipe.update(pipe.validate({"seed": 2}))
    pipe.update(pipe.validate({"seed": 1}))  # the schedule and noise are made again: a reset
    again = run(pipe, 3)
    assert same(again[2], out[2])


def test_updates_apply_in_place_and_change_the_output(pipe):
    unet = pipe.model.pipe.unet
    pipe.update(pipe.validate({"num_inference_steps": 1, "strength": 0.5, "seed": 3}))
    base = pipe.process(frame(9))
    outputs = []
    for change in (
        {"prompt": "a dog"},
        {"prompt": "a cat", "seed": 4},
        {"seed": 3, "strength": 0.9},
    ):
        pipe.update(pipe.validate(change))
        outputs.append(pipe.process(frame(9)))
    pipe.update(pipe.validate({"strength": 0.5}))
    assert same(pipe.process(frame(9)), base)  # cached embeddings, the same noise again
    for change, out in zip(("prompt", "seed", "strength"), outputs, strict=True):
        assert not same(out, base), change
    assert pipe.model.pipe.unet is unet and {"a cat", "a dog"} <= set(pipe.model.embeddings)


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"strength": 0}, "strength: expected > 0 and <= 1"),
        ({"strength": "high"}, "strength: expected a number"),
        ({"num_inference_steps": 5}, "num_inference_steps: expected an integer 1-4"),
        ({"seed": -1}, "seed: expected an integer"),
        ({"prompt": 3}, "prompt: expected a string"),
        ({"width": 512}, "cannot change output resolution"),
    ],
)
def test_bad_params_are_refused_and_the_running_params_kept(pipe, params, why):
    before = dict(pipe.params)
    with pytest.raises(ValueError, match=why):
        pipe.validate(params)
    assert pipe.params == before


def test_a_live_stream_runs_through_the_diffusion_pipeline(model):
    factory = functools.partial(StreamDiffusionPipeline, model)
    started: list[int] = []

    async def body(node: Node) -> None:
        def make(params: Mapping[str, Any]) -> StreamDiffusionPipeline:
            started.append(1)
            return factory(params)

        node.live = LiveStreams(
            node.trickle, node.registry, "https://127.0.0.1:1", available={"sd": make}
        )
        job = node.live.start(node.live.reserve("sd"), {"width": SIZE, "height": SIZE})
        out = asyncio.ensure_future(collect(node.channel(job, "-out")))
        ev = asyncio.ensure_future(events(node.channel(job, "-events")))
        await node.channel(job, "-control").publish(b'{"prompt": "a lighthouse", "seed": 7}')
        await feed(node.channel(job), ts_segments(1.0, size=(SIZE, SIZE)))
        node.trickle.close_channel(job.manifest_id)
        data = await asyncio.wait_for(out, 60)
        with av.open(io.BytesIO(data), format="mpegts") as c:
            sizes = {(f.width, f.height) for f in c.decode(video=0)}
        assert sizes == {(SIZE, SIZE)}
        statuses = [e["event"] for e in await ev if e["event"]["type"] == "status"]
        assert any(
            s["inference_status"]["last_params"].get("prompt") == "a lighthouse" for s in statuses
        )
        assert node.registry.advertised().per_capability[35]["sd"].capacity == 4

    run_clean(body)
    assert started == [1]  # loaded once; the update did not reload
