"""The model manager on the tiny models: loading from HF layout, advertisement, capacity,
batching that does not change results, eviction and out-of-memory recovery."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lpengine.ai.api import ROUTES, parse
from lpengine.ai.errors import AIError, classify
from lpengine.ai.manager import ModelManager, NoCapacity
from lpengine.ai.model_config import parse_ai_models
from lpengine.ai.pipelines import PIPELINES
from lpengine.capabilities import Capability
from lpengine.capability_registry import CapabilityRegistry
from lpengine.testing import TINY_MODELS
from tests.ai.models import png, started_manager

SD = TINY_MODELS["text-to-image"]
UP = TINY_MODELS["upscale"]


def t2i(**fields: object) -> dict[str, object]:
    values = {
        "model_id": SD,
        "prompt": "a red cat",
        "width": 64,
        "height": 64,
        "num_inference_steps": 2,
        "seed": 7,
        **fields,
    }
    return parse(ROUTES["text-to-image"], values, form=False)


def pixels(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


@pytest.fixture(scope="module")
def manager(root: Path) -> Iterator[ModelManager]:
    models = [
        {"pipeline": "text-to-image", "model_id": SD, "warm": True, "capacity": 4,
         "optimization_flags": {"max_batch_size": 4, "max_wait_ms": 50}},
        {"pipeline": "image-to-image", "model_id": SD, "capacity": 1},
        {"pipeline": "upscale", "model_id": UP, "capacity": 1},
        {"pipeline": "llm", "model_id": "x/y"},
    ]  # fmt: skip
    with started_manager(root, models) as m:
        yield m


def run(manager: ModelManager, pipeline: str, params: dict[str, object]) -> dict[str, object]:
    slot = manager.slot(pipeline, str(params["model_id"]))
    prepared = slot.pipeline.prepare(params)
    manager.reserve(slot)
    try:
        return slot.pipeline.respond(prepared, manager.run(slot, prepared.items).results)
    finally:
        manager.release(slot)


def test_warm_models_load_at_start_and_are_advertised(manager):
    t2i_slot = manager.slot("text-to-image", SD)
    assert t2i_slot.model is not None and t2i_slot.load_s is not None
    assert manager.slot("upscale", UP).model is None  # cold until asked
    adv = manager.registry.advertised()
    assert adv.capacities[Capability.TEXT_TO_IMAGE] == 4
    model = adv.per_capability[Capability.TEXT_TO_IMAGE][SD]
    assert (model.warm, model.capacity, model.capacity_in_use) == (True, 4, 0)
    assert adv.per_capability[Capability.UPSCALE][UP].warm is False
    assert Capability.LLM not in adv.capacities
    assert [c.pipeline for c, _ in manager.unsupported] == ["llm"]


def test_text_to_image_answers_png_data_urls_with_seeds(manager):
    body = run(manager, "text-to-image", t2i(num_images_per_prompt=2))
    images = body["images"]
    assert [i["seed"] for i in images] == [7, 8] and not any(i["nsfw"] for i in images)
    first, second = (pixels(i["url"]) for i in images)
    assert first.shape == (64, 64, 3) and not np.array_equal(first, second)
    again = run(manager, "text-to-image", t2i())["images"][0]
    assert np.array_equal(pixels(again["url"]), first)  # the same seed, the same image


def test_a_result_is_the_same_batched_or_alone(manager):
    alone = pixels(run(manager, "text-to-image", t2i(seed=99))["images"][0]["url"])
    batcher = manager.slot("text-to-image", SD).batcher
    assert batcher is not None
    before = batcher.batches
    results: dict[int, dict[str, object]] = {}
    barrier = threading.Barrier(4)

    def go(i: int) -> None:
        barrier.wait()
        results[i] = run(manager, "text-to-image", t2i(seed=96 + i, prompt=f"thing {i}"))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert batcher.batches - before < 4  # some requests ran together
    batched = results[3]["images"]
    assert isinstance(batched, list) and batched[0]["seed"] == 99
    solo = pixels(run(manager, "text-to-image", t2i(seed=99, prompt="thing 3"))["images"][0]["url"])
    assert np.array_equal(pixels(batched[0]["url"]), solo)
    assert not np.array_equal(alone, solo)  # the prompt matters


def test_cold_models_load_on_first_use_then_advertise_warm(manager):
    params = parse(
        ROUTES["upscale"],
        {
            "model_id": UP,
            "prompt": "sharp",
            "image": png(16, 8),
            "num_inference_steps": 2,
            "seed": 3,
        },
        form=True,
    )
    body = run(manager, "upscale", params)
    assert pixels(body["images"][0]["url"]).shape == (32, 64, 3)  # 4x
    assert manager.registry.advertised().per_capability[Capability.UPSCALE][UP].warm
    params = parse(
        ROUTES["image-to-image"],
        {
            "model_id": SD,
            "prompt": "blue",
            "image": png(40, 24),
            "num_inference_steps": 2,
            "seed": 1,
        },
        form=True,
    )
    slot = manager.slot("image-to-image", SD)
    assert slot.pipeline.prepare(params).units == 40 * 24
    body = run(manager, "image-to-image", params)
    assert pixels(body["images"][0]["url"]).shape == (24, 40, 3)


def test_capacity_is_reserved_and_advertised(manager):
    slot = manager.slot("image-to-image", SD)
    manager.reserve(slot)
    try:
        m = manager.registry.advertised().per_capability[Capability.IMAGE_TO_IMAGE][SD]
        assert (m.capacity, m.capacity_in_use) == (0, 1)
        with pytest.raises(NoCapacity, match="insufficient capacity"):
            manager.reserve(slot)
    finally:
        manager.release(slot)
    m = manager.registry.advertised().per_capability[Capability.IMAGE_TO_IMAGE][SD]
    assert (m.capacity, m.capacity_in_use) == (1, 0)


@pytest.mark.parametrize(
    ("fields", "status", "msg"),
    [
        ({"prompt": " "}, 400, "Prompt must be provided."),
        ({"width": 60}, 400, "`height` and `width` have to be divisible by 8 but are 64 and 60."),
        ({"height": 8192}, 400, "`height` and `width` must be at most 4096 but are 8192 and 64."),
        ({"loras": "{nope"}, 400, "Unable to parse '{nope' as JSON."),
        (
            {"loras": '{"a/b": -1}'},
            400,
            "All strengths must be numbers greater than or equal to 0.0.",
        ),
        ({"seed": -1}, 400, "seed: expected 0..4294967295, got -1"),
    ],
)
def test_bad_requests_are_refused_before_any_work(manager, fields, status, msg):
    with pytest.raises(AIError) as err:
        PIPELINES["text-to-image"].prepare(t2i(**fields))
    assert (err.value.status, err.value.msg) == (status, msg)


def test_unknown_models_and_bad_images_are_400(manager):
    with pytest.raises(AIError, match=r"pipeline configured with .* but called with nope/x\."):
        manager.slot("text-to-image", "nope/x")
    params = parse(
        ROUTES["upscale"], {"model_id": UP, "prompt": "p", "image": b"RIFFxxxxWEBP"}, form=True
    )
    with pytest.raises(AIError, match="unsupported format"):
        PIPELINES["upscale"].prepare(params)


def test_eviction_and_out_of_memory(root: Path):
    configs = parse_ai_models(f"text-to-image:{SD}:false,upscale:{UP}:false")
    m = ModelManager(
        root, configs, CapabilityRegistry("1"), device="cpu", memory_budget_bytes=9 << 20
    )  # one tiny model fits, not two
    try:
        run(m, "text-to-image", t2i())
        run(
            m,
            "upscale",
            parse(
                ROUTES["upscale"],
                {"model_id": UP, "prompt": "p", "image": png(8, 8), "num_inference_steps": 1},
                form=True,
            ),
        )
        assert m.slot("text-to-image", SD).model is None  # evicted, least recently used
        assert m.slot("upscale", UP).model is not None
        busy = m.slot("upscale", UP)
        m.reserve(busy)  # a busy model is never evicted: the next load cannot fit
        with pytest.raises(Exception) as err:
            run(m, "text-to-image", t2i())
        failure = classify(err.value, "text-to-image")
        assert (failure.status, failure.msg) == (
            500,
            "Out of memory error. Try reducing output image resolution.",
        )
        m.release(busy)
        # Out of memory inside the model: its memory is released and it reloads on next use.
        slot = m.slot("upscale", UP)
        assert slot.model is not None
        huge = parse(
            ROUTES["upscale"], {"model_id": UP, "prompt": "p", "image": png(8, 8)}, form=True
        )
        prepared = slot.pipeline.prepare(huge)
        original = slot.model.run

        def oom(*_: object) -> list[object]:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")

        slot.model.run = oom  # type: ignore[method-assign]
        m.reserve(slot)
        with pytest.raises(RuntimeError) as err:
            m.run(slot, prepared.items)
        m.release(slot)
        assert classify(err.value, "upscale").msg == "Out of memory."
        assert slot.model is None and m.memory_used_bytes == 0
        del original
        assert not m.registry.advertised().per_capability[Capability.UPSCALE][UP].warm
        run(
            m,
            "upscale",
            parse(
                ROUTES["upscale"],
                {"model_id": UP, "prompt": "p", "image": png(8, 8), "num_inference_steps": 1},
                form=True,
            ),
        )
        assert slot.model is not None
    finally:
        m.close()


def test_a_run_reports_its_batches_and_where_the_time_went(manager):
    slot = manager.slot("text-to-image", SD)
    prepared = slot.pipeline.prepare(t2i(num_images_per_prompt=2))
    ran = manager.run(slot, prepared.items)
    assert len(ran.results) == 2 and ran.batch_sizes == (2,)  # one model call for both
    assert ran.model_s > 0 and ran.queue_s >= 0
