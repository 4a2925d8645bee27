"""A running live stream switching models (live/reload.py through the session): the tiny Stable
Diffusion of `lpengine.testing` under a second model id, loaded by the real loader in the
background (held at a gate, so the switch waits for it with the loading overlay showing); a
model that fails to load, and switches refused, leave the stream on its model and params."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Awaitable, Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from lpengine.ai.model_config import AIModelConfig
from lpengine.ai.model_dir import snapshot_dir
from lpengine.live import pipelines
from lpengine.live.diffusion import StreamDiffusionPipeline
from lpengine.live.models import LIVE, load_diffusion
from lpengine.live.overlay import DIM, LoadingOverlay
from lpengine.live.payments import switch_price_check
from lpengine.live.session import LiveSession
from lpengine.live.streams import LiveJob, LiveStreams
from lpengine.live.trickle import Channel
from lpengine.pricing import Price, PriceBook
from lpengine.testing import link_model
from lpengine.testing.tiny_models import TINY_SD, hf_snapshot_dir
from tests.ai.models import models_dir
from tests.live.clips import ts_segments
from tests.live.inprocess import Node, collect, errors, feed, run_clean

SIZE = 384
OTHER = "lpengine-testing/tiny-sd-b"  # the tiny SD's files under a second model id
BROKEN = "lpengine-testing/broken-sd"  # a folder without a model in it
Event = dict[str, Any]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = models_dir(tmp_path_factory)
    link_model(root, OTHER, snapshot_dir(root, TINY_SD))
    hf_snapshot_dir(root, BROKEN)
    return root


class Events:
    """A stream's events as they come."""

    def __init__(self, ch: Channel) -> None:
        self._sub = ch.subscribe(0)
        self.seen: list[Event] = []

    async def until(self, test: Callable[[Event], bool], timeout_s: float = 60) -> Event:
        async def find() -> Event:
            while (seg := await self._sub.next()) is not None:
                self.seen.append(json.loads(await seg.read_all()))
                if test(self.seen[-1]["event"]):
                    return self.seen[-1]["event"]
            raise AssertionError(f"the events ended first: {self.seen}")

        return await asyncio.wait_for(find(), timeout_s)


def status(state: str | None = None, prompt: str | None = None) -> Callable[[Event], bool]:
    def test(e: Event) -> bool:
        params = e.get("inference_status", {}).get("last_params", {})
        return (
            e["type"] == "status"
            and state in (None, e["state"])
            and prompt in (None, params.get("prompt"))
        )

    return test


def error(text: str) -> Callable[[Event], bool]:
    return lambda e: e["type"] == "error" and text in e["message"]


def load(
    node: Node, root: Path, models: list[str], gate: threading.Event | None = None, slots: int = 4
) -> Callable[[], Awaitable[None]]:
    """Gives the node live `models` from `root`, loading in the background by the real loader
    (held at `gate` if given); returns a coroutine function that waits for the loads to end."""

    def gated(folder: Path) -> pipelines.Factory:
        assert gate is None or gate.wait(60)
        return load_diffusion(folder)

    node.live = LiveStreams(node.trickle, node.registry, "https://127.0.0.1:1")
    configs = [AIModelConfig(pipeline=LIVE, model_id=m, capacity=slots) for m in models]
    node.live.load_models(root, configs, gated)

    async def loaded() -> None:
        assert await asyncio.to_thread(node.live.wait_for_models, 120)

    return loaded


def start(node: Node, params: dict[str, Any] | None = None) -> tuple[LiveJob, LiveSession]:
    job = node.start({"width": SIZE, "height": SIZE, **(params or {})})
    return job, node.live.sessions[job.manifest_id]


async def control(node: Node, job: LiveJob, message: dict[str, Any]) -> None:
    await node.channel(job, "-control").publish(json.dumps(message).encode())


def decoded(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data), format="mpegts") as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def is_overlay(rgb: np.ndarray) -> bool:
    """Dimmed everywhere but the spinner's square (the test pattern is bright: its green ramp
    reaches 255), with a white spinner in it; x264 blurs edges by a few pixels."""
    o = LoadingOverlay(rgb.shape[1], rgb.shape[0])
    s, margin = o._alphas.shape[1], 6
    top, left = (rgb.shape[0] - s) // 2 - margin, (rgb.shape[1] - s) // 2 - margin
    outside = np.ones(rgb.shape[:2], bool)
    outside[top : top + s + 2 * margin, left : left + s + 2 * margin] = False
    box = rgb[top + margin : top + margin + s, left + margin : left + margin + s]
    return bool(rgb[outside].max() <= 255 * DIM + 20 and box.max() >= 200)


def test_a_stream_switches_to_a_model_still_loading_with_the_overlay_meanwhile(root):
    async def body(node: Node) -> None:
        gate = threading.Event()
        loaded = load(node, root, [OTHER], gate)
        job, session = start(node, {"prompt": "a cat", "seed": 7})
        out = asyncio.ensure_future(collect(node.channel(job, "-out")))
        events = Events(node.channel(job, "-events"))
        await control(node, job, {"model_id": OTHER, "prompt": "a dog"})
        await events.until(status("LOADING"))
        assert (node.live.in_use("noop"), node.live.in_use(OTHER)) == (1, 1)
        assert node.registry.advertised().per_capability[35][OTHER].capacity_in_use == 1
        await control(node, job, {"prompt": "a fox"})  # held until the reload ends
        await control(node, job, {"prompt": "an owl"})  # ... and replaced: the latest wins
        await feed(node.channel(job), ts_segments(1.0, size=(SIZE, SIZE)))
        assert session.model_id == "noop" and session.reload_frames > 0
        gate.set()
        await loaded()
        done = await events.until(status(prompt="a dog"))
        assert done["state"] != "LOADING" and done["pipeline"] == "streamdiffusion"
        assert done["inference_status"]["last_params"]["seed"] == 7  # the stream's params go on
        assert (node.live.in_use("noop"), node.live.in_use(OTHER)) == (0, 1)
        await feed(node.channel(job), ts_segments(1.0, size=(SIZE, SIZE), first=30))
        await events.until(status(prompt="an owl"))  # applied in place by the new pipeline
        node.trickle.close_channel(job.manifest_id)
        kinds = [is_overlay(f) for f in decoded(await asyncio.wait_for(out, 120))]
        # The frames before the switch (the pipeline's echoes), then the overlay until the
        # model was ready, then the new model's; none of the overlay frames was counted.
        first, overlays = kinds.index(True), session.reload_frames
        assert kinds[first : first + overlays] == [True] * overlays
        assert not any(kinds[first + overlays :]) and len(kinds) > first + overlays
        assert session.reloads == 1 and session.model_id == OTHER
        pipe = session.pipeline
        assert isinstance(pipe, StreamDiffusionPipeline) and pipe.unet_calls > 0
        assert pipe.params["prompt"] == "an owl" and pipe.params["seed"] == 7
        assert node.live.in_use(OTHER) == 0  # the stream ended: its slot is back

    run_clean(body)


def test_a_model_that_fails_to_load_leaves_the_stream_on_its_model_and_params(root):
    async def body(node: Node) -> None:
        gate = threading.Event()
        loaded = load(node, root, [BROKEN], gate)
        job, session = start(node, {"prompt": "a cat"})
        out = asyncio.ensure_future(collect(node.channel(job, "-out")))
        events = Events(node.channel(job, "-events"))
        switch = {"model_id": BROKEN, "prompt": "a dog", "show_reloading_frame": False}
        await control(node, job, switch)
        await events.until(status("LOADING"))
        await feed(node.channel(job), ts_segments(1.0, size=(SIZE, SIZE)))
        assert session.reload_frames > 0
        gate.set()
        await loaded()
        await events.until(error(f"reload to {BROKEN} failed, noop goes on: live model"))
        assert (node.live.in_use("noop"), node.live.in_use(BROKEN)) == (1, 0)
        assert session.model_id == "noop" and session.pipeline.params["prompt"] == "a cat"
        await feed(node.channel(job), ts_segments(1.0, size=(SIZE, SIZE), first=30))
        node.trickle.close_channel(job.manifest_id)
        frames = decoded(await asyncio.wait_for(out, 60))
        # Passed through while reloading (show_reloading_frame false), echoed after: no
        # overlay anywhere, and only the echoes counted.
        assert len(frames) > session.reload_frames and not any(is_overlay(f) for f in frames)
        assert session.reloads == 0

    run_clean(body)


def test_switches_that_cannot_be_made_are_refused_and_change_nothing(root):
    async def body(node: Node) -> None:
        await load(node, root, [TINY_SD, OTHER], slots=1)()
        held = node.live.start(node.live.reserve(OTHER), {"width": SIZE, "height": SIZE})
        prices = PriceBook(
            Price(Fraction(10)), per_capability={("default", 35, "noop"): Price(Fraction(20))}
        )  # NOTE: both diffusion models at the base price, noop dearer
        start = {"width": SIZE, "height": SIZE}
        check = switch_price_check(prices, "default", TINY_SD)
        job = node.live.start(node.live.reserve(TINY_SD), start, switch_check=check)
        session = node.live.sessions[job.manifest_id]
        old = session.pipeline
        events = Events(node.channel(job, "-events"))
        dearer = "model_id: noop costs 20 wei per unit, more than the 10 this stream pays for"
        for message, why in [
            ({"model_id": "noop"}, dearer),
            ({"model_id": "nobody/sd"}, "model_id: no live model 'nobody/sd' here (known: "),
            ({"model_id": OTHER}, f"insufficient capacity: all 1 {OTHER} slots are in use"),
            ({"model_id": "noop", "width": 512}, "cannot change output resolution"),
            ({"model_id": "noop", "show_reloading_frame": "yes"}, "show_reloading_frame"),
            ({"model_id": 7}, "model_id: expected a model name"),
        ]:
            await control(node, job, message)
            await events.until(error(why))
        # A model with a free slot, params it refuses: a failed reload (after a LOADING spell).
        other = node.live.sessions[held.manifest_id]
        node.trickle.close_channel(held.manifest_id)
        await other.stopped.wait()
        await control(node, job, {"model_id": OTHER, "strength": 5})
        await events.until(error(f"reload to {OTHER} failed, {TINY_SD} goes on: strength"))
        assert session.pipeline is old and session.model_id == TINY_SD
        assert (node.live.in_use(TINY_SD), node.live.in_use(OTHER)) == (1, 0)
        # Then a good one: the other diffusion model, loaded, its own weights.
        await control(node, job, {"model_id": OTHER, "prompt": "a dog"})
        await events.until(status(prompt="a dog"))
        new = session.pipeline
        assert isinstance(new, StreamDiffusionPipeline) and isinstance(old, StreamDiffusionPipeline)
        assert new.model is not old.model and session.model_id == OTHER
        assert "a dog" in new.model.embeddings  # prepared off the frame loop: no frame came
        assert (node.live.in_use(TINY_SD), node.live.in_use(OTHER)) == (0, 1)
        assert errors(events.seen)[-1].startswith(f"reload to {OTHER} failed")
        node.trickle.close_channel(job.manifest_id)
        await session.stopped.wait()

    run_clean(body)
