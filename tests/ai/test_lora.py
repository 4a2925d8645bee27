"""LoRA adapters on the tiny SD model: loaded from the models dir only and once per model,
weighted per batch, never batched with other loras, refused before payment when missing."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from lpengine.ai.api import ROUTES, parse
from lpengine.ai.errors import AIError, classify
from lpengine.ai.manager import ModelManager, Ran
from lpengine.ai.pipelines import PIPELINES
from lpengine.ai.pipelines.lora import Adapters
from lpengine.ai.service import AIService
from lpengine.testing import TINY_MODELS, TINY_SD_LORA, hf_snapshot_dir
from lpengine.testing.tiny_models import LORA_WEIGHTS, write_tiny_sd_lora
from tests.ai.models import models_dir, png, started_manager

SD = TINY_MODELS["text-to-image"]
LORA = TINY_SD_LORA
OTHER = "lpengine-testing/tiny-sd-lora-b"  # a second LoRA, another seed


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = models_dir(tmp_path_factory)
    snapshot = hf_snapshot_dir(root, OTHER)
    if not (snapshot / LORA_WEIGHTS).exists():
        write_tiny_sd_lora(snapshot, seed=11)
    return root


@pytest.fixture(scope="module")
def manager(root: Path) -> Iterator[ModelManager]:
    entries = [
        {"pipeline": "text-to-image", "model_id": SD, "warm": True, "capacity": 8,
         "optimization_flags": {"max_batch_size": 4, "max_wait_ms": 100}},
        {"pipeline": "image-to-image", "model_id": SD, "capacity": 2,
         "optimization_flags": {"max_loras": 1}},
    ]  # fmt: skip
    with started_manager(root, entries) as m:
        yield m


def t2i(loras: dict[str, float] | None = None, **fields: object) -> dict[str, object]:
    values = {"model_id": SD, "prompt": "a red cat", "width": 64, "height": 64,
              "num_inference_steps": 2, "seed": 7, "safety_check": False,
              "loras": json.dumps(loras) if loras is not None else "", **fields}  # fmt: skip
    return parse(ROUTES["text-to-image"], values, form=False)


def i2i(loras: dict[str, float] | None = None) -> dict[str, object]:
    values = {"model_id": SD, "prompt": "blue", "image": png(32, 24), "strength": 0.9,
              "num_inference_steps": 3, "seed": 2, "safety_check": "false",
              "loras": json.dumps(loras) if loras is not None else ""}  # fmt: skip
    return parse(ROUTES["image-to-image"], values, form=True)


def run(manager: ModelManager, pipeline: str, params: dict[str, object]) -> tuple[np.ndarray, Ran]:
    """The request's first image (pixels) and how its items ran."""
    slot = manager.slot(pipeline, SD)
    prepared = manager.prepare(slot, params)
    manager.reserve(slot)
    try:
        ran = manager.run(slot, prepared.items)
    finally:
        manager.release(slot)
    url = slot.pipeline.respond(prepared, ran.results)["images"][0]["url"]
    data = base64.b64decode(url.removeprefix("data:image/png;base64,"))
    return np.asarray(Image.open(io.BytesIO(data))), ran


def adapters(manager: ModelManager, pipeline: str) -> Adapters:
    model = manager.slot(pipeline, SD).model
    assert model is not None
    found = getattr(model, "adapters", None)
    assert isinstance(found, Adapters)
    return found


def test_a_lora_changes_the_image_its_weight_zero_and_no_lora_do_not(manager):
    plain, _ = run(manager, "text-to-image", t2i())
    with_lora, _ = run(manager, "text-to-image", t2i({LORA: 1.0}))
    assert not np.array_equal(with_lora, plain)
    assert np.array_equal(run(manager, "text-to-image", t2i({LORA: 0}))[0], plain)
    half, _ = run(manager, "text-to-image", t2i({LORA: 0.5}))
    assert not np.array_equal(half, plain) and not np.array_equal(half, with_lora)
    # NOTE: after a request with a LoRA, one without runs with every adapter disabled.
    assert np.array_equal(run(manager, "text-to-image", t2i())[0], plain)
    assert np.array_equal(run(manager, "text-to-image", t2i({LORA: 1}))[0], with_lora)
    loaded = adapters(manager, "text-to-image")
    assert loaded.loaded[-1] == LORA and loaded.load_s[LORA] > 0
    assert loaded.loads == len(loaded.loaded)  # each loaded once, however often asked for
    shown = manager.describe()[f"text-to-image/{SD}"]["loras"]  # as /status ai_models shows it
    assert list(shown) == loaded.loaded and shown[LORA] > 0


def test_two_loras_mix_in_either_order(manager):
    a, _ = run(manager, "text-to-image", t2i({LORA: 1.0}))
    b, _ = run(manager, "text-to-image", t2i({OTHER: 1.0}))
    both, _ = run(manager, "text-to-image", t2i({LORA: 1.0, OTHER: 1.0}))
    assert not np.array_equal(both, a) and not np.array_equal(both, b)
    assert np.array_equal(run(manager, "text-to-image", t2i({OTHER: 1.0, LORA: 1.0}))[0], both)


def test_requests_with_other_loras_batch_apart_and_match_their_results_alone(manager):
    asks: list[dict[str, float] | None] = [None, {LORA: 1.0}, {LORA: 0.25}, {OTHER: 0.5}] * 2
    results: dict[int, tuple[np.ndarray, Ran]] = {}
    barrier = threading.Barrier(len(asks))

    def go(i: int) -> None:
        barrier.wait()
        results[i] = run(manager, "text-to-image", t2i(asks[i], seed=40 + i, prompt=f"thing {i}"))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(asks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == len(asks)
    assert any(2 in ran.batch_sizes for _, ran in results.values())  # same loras ran together
    for i, loras in enumerate(asks):
        alone, ran = run(manager, "text-to-image", t2i(loras, seed=40 + i, prompt=f"thing {i}"))
        assert ran.batch_sizes == (1,)
        assert np.array_equal(results[i][0], alone), (i, loras)


def test_the_batch_key_holds_the_loras_in_one_order():
    prepare = PIPELINES["text-to-image"].prepare
    one = prepare(t2i({LORA: 1, OTHER: 0.5}))
    assert one.items[0].key == prepare(t2i({OTHER: 0.5, LORA: 1.0})).items[0].key
    assert one.items[0].key != prepare(t2i({LORA: 1, OTHER: 0.25})).items[0].key
    assert one.items[0].key != prepare(t2i()).items[0].key
    assert one.loras == (LORA, OTHER)


def test_image_to_image_applies_loras_and_evicts_past_max_loras(manager):
    plain, _ = run(manager, "image-to-image", i2i())
    first, _ = run(manager, "image-to-image", i2i({LORA: 1.0}))
    assert not np.array_equal(first, plain)
    held = adapters(manager, "image-to-image")
    assert held.loaded == [LORA]
    other, _ = run(manager, "image-to-image", i2i({OTHER: 1.0}))
    assert held.loaded == [OTHER] and not np.array_equal(other, first)  # max_loras 1
    assert np.array_equal(run(manager, "image-to-image", i2i({LORA: 1.0}))[0], first)  # reloaded
    assert held.loaded == [LORA] and held.loads == 3
    assert np.array_equal(run(manager, "image-to-image", i2i({LORA: 0.0}))[0], plain)


def test_a_repo_missing_from_the_models_dir_is_refused_before_payment(manager):
    paid: list[str] = []
    payment = SimpleNamespace(sender=b"\x01" * 20)
    service = AIService(
        manager,
        check_credentials=lambda creds, sender: None,  # type: ignore[arg-type,return-value]
        take_payment=lambda payment, key: paid.append(key),
        check_balance=lambda payment, key: None,
        debit=lambda payment, key, units: None,
    )
    for pipeline, params in (
        ("text-to-image", t2i({LORA: 1.0, "nobody/no-such-lora": 0.5})),
        ("image-to-image", i2i({"nobody/no-such-lora": 1.0})),
    ):
        slot = manager.slot(pipeline, SD)
        with pytest.raises(AIError) as err:
            service.accept(payment, None, pipeline, params)  # type: ignore[arg-type]
        assert (err.value.status, err.value.msg) == (
            400,
            "LoRa repository 'nobody/no-such-lora' not found",
        )
        assert paid == [] and slot.in_use == 0


def test_a_lora_gone_from_the_disk_after_the_check_fails_its_job_with_400(manager, root):
    snapshot = hf_snapshot_dir(root, "lpengine-testing/gone-lora")
    write_tiny_sd_lora(snapshot, seed=12)
    slot = manager.slot("text-to-image", SD)
    prepared = manager.prepare(slot, t2i({"lpengine-testing/gone-lora": 1.0}))
    (snapshot / LORA_WEIGHTS).unlink()
    with pytest.raises(Exception) as err:
        manager.run(slot, prepared.items)
    failure = classify(err.value, "text-to-image")
    assert (failure.status, failure.msg) == (
        400,
        "Unable to load LoRas for adapter 'lpengine-testing/gone-lora'.",
    )
    assert "lpengine-testing/gone-lora" not in adapters(manager, "text-to-image").loaded
    plain, _ = run(manager, "text-to-image", t2i())  # the model still runs as before
    assert np.array_equal(plain, run(manager, "text-to-image", t2i({LORA: 0}))[0])


def test_a_lora_for_another_base_model_fails_its_job_with_400(manager, root):
    import torch
    from safetensors.torch import save_file

    repo = "lpengine-testing/sdxl-shaped-lora"  # names a UNet block the tiny SD lacks
    prefix = "unet.down_blocks.3.attentions.0.transformer_blocks.0.attn1.to_q"
    weights = {f"{prefix}.lora_A.weight": torch.ones(4, 32),
               f"{prefix}.lora_B.weight": torch.ones(32, 4)}  # fmt: skip
    save_file(weights, str(hf_snapshot_dir(root, repo) / LORA_WEIGHTS))
    slot = manager.slot("text-to-image", SD)
    prepared = manager.prepare(slot, t2i({repo: 1.0}))
    with pytest.raises(Exception) as err:
        manager.run(slot, prepared.items)
    failure = classify(err.value, "text-to-image")
    assert (failure.status, failure.msg) == (
        400,
        f"LoRa incompatible with base model: '{SD}'.",
    )
    assert repo not in adapters(manager, "text-to-image").loaded
    with_lora, _ = run(manager, "text-to-image", t2i({LORA: 1.0}))
    assert not np.array_equal(with_lora, run(manager, "text-to-image", t2i())[0])
