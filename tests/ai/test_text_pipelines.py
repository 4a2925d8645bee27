"""image-to-text (tiny BLIP), llm (tiny Llama) and text-to-speech (tiny VITS) through the model
manager: the real loaders on
the folders lpengine.testing writes, their checks, and results that do not depend on batching."""

from __future__ import annotations

import base64
import io
import json
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lpengine.ai.api import ROUTES, parse
from lpengine.ai.errors import AIError
from lpengine.ai.manager import ModelManager
from lpengine.ai.model_config import parse_ai_models
from lpengine.ai.pipelines.image_to_text import ImageToText
from lpengine.ai.pipelines.llm import LLM, LLM_ERROR
from lpengine.ai.pipelines.pretrained import MAX_IMAGE_BYTES
from lpengine.ai.pipelines.text_to_speech import MAX_CHARS, TextToSpeech
from lpengine.capability_registry import CapabilityRegistry
from lpengine.testing import TINY_MODELS
from tests.ai.models import models_dir, png, started_manager

BLIP, TINY_LLM = TINY_MODELS["image-to-text"], TINY_MODELS["llm"]
VITS = TINY_MODELS["text-to-speech"]


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelManager]:
    models = [
        {"pipeline": "image-to-text", "model_id": BLIP, "warm": True,
         "optimization_flags": {"max_batch_size": 3, "max_wait_ms": 200}},
        {"pipeline": "llm", "model_id": TINY_LLM, "warm": True},
        {"pipeline": "text-to-speech", "model_id": VITS},
    ]  # fmt: skip
    with started_manager(models_dir(tmp_path_factory), models) as m:
        yield m


def caption(**fields: Any) -> dict[str, Any]:
    return parse(ROUTES["image-to-text"], {"model_id": BLIP, **fields}, form=True)


def chat(**fields: Any) -> dict[str, Any]:
    values = {"model": TINY_LLM, "messages": [{"role": "user", "content": "hi"}],
              "max_tokens": 5, "temperature": 0, **fields}  # fmt: skip
    return parse(ROUTES["llm"], values, form=False)


def run(manager: ModelManager, pipeline: str, model_id: str, params: dict[str, Any]) -> Any:
    slot = manager.slot(pipeline, model_id)
    prepared = slot.pipeline.prepare(params)
    return slot.pipeline.respond(prepared, manager.run(slot, prepared.items).results)


def test_image_to_text_prices_pixels_and_refuses_what_is_not_an_image():
    assert ImageToText.prepare(caption(image=png(30, 20))).units == 600
    with pytest.raises(AIError) as err:
        ImageToText.prepare(caption(image=b"GIF8" + b"\0" * 4))
    assert err.value.status == 400 and "image" in err.value.msg
    with pytest.raises(AIError) as err:
        ImageToText.prepare(caption(image=b"\0" * (MAX_IMAGE_BYTES + 1)))
    assert (err.value.status, err.value.msg) == (413, "File size exceeds limit")


def test_image_to_text_preprocesses_as_the_folder_says(manager):
    model = manager.slot("image-to-text", BLIP).model
    assert isinstance(model, ImageToText) and model.size == (32, 32)
    from PIL import Image

    x = model.pixels([Image.new("RGB", (50, 10), (255, 0, 0))])
    assert tuple(x.shape) == (1, 3, 32, 32)
    red = (1 - 0.48145466) / 0.26862954
    assert abs(float(x[0, 0, 5, 5]) - red) < 1e-5  # rescaled then normalised


def test_a_caption_is_the_same_batched_or_alone(manager):
    import threading

    images = [png(24, 24, seed=i) for i in range(3)]
    alone = [run(manager, "image-to-text", BLIP, caption(image=im))["text"] for im in images]
    batcher = manager.slot("image-to-text", BLIP).batcher
    assert batcher is not None
    before = batcher.batches
    out: dict[int, str] = {}

    def go(i: int) -> None:
        out[i] = run(manager, "image-to-text", BLIP, caption(image=images[i]))["text"]

    threads = [threading.Thread(target=go, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert batcher.batches - before < 3  # some ran together
    assert [out[i] for i in range(3)] == alone


@pytest.mark.parametrize(
    ("fields", "status", "msg"),
    [
        ({"max_tokens": None}, 400, "MaxTokens not specified"),
        ({"max_tokens": 0}, 500, LLM_ERROR),
        ({"temperature": 2.5}, 500, LLM_ERROR),
        ({"top_p": 0}, 500, LLM_ERROR),
        ({"top_k": 0}, 500, LLM_ERROR),
        ({"messages": []}, 500, LLM_ERROR),
        ({"messages": [{"role": "tool", "content": "x"}]}, 500, LLM_ERROR),
    ],
)
def test_llm_refuses_bad_requests_as_ai_runner(fields, status, msg):
    with pytest.raises(AIError) as err:
        LLM.prepare(chat(**fields))
    assert (err.value.status, err.value.msg) == (status, msg)


def test_llm_is_priced_in_max_tokens_and_counts_its_tokens(manager):
    assert LLM.prepare(chat(max_tokens=7)).units == 7
    doc = run(manager, "llm", TINY_LLM, chat(max_tokens=7))
    assert 1 <= doc["usage"]["completion_tokens"] <= 7
    for sampling in ({"temperature": 1.0, "top_k": 5}, {"temperature": 0.7, "top_p": 0.9}):
        sampled = run(manager, "llm", TINY_LLM, chat(max_tokens=7, **sampling))
        assert sampled["choices"][0]["finish_reason"] == "stop"


def test_llm_refuses_a_prompt_longer_than_its_context(manager):
    long = [{"role": "user", "content": "x" * 400}]  # the tiny model has 256 positions
    slot = manager.slot("llm", TINY_LLM)
    prepared = slot.pipeline.prepare(chat(messages=long))
    with pytest.raises(AIError) as err:
        manager.run(slot, prepared.items)
    assert (err.value.status, err.value.msg) == (500, LLM_ERROR)
    assert slot.model is not None  # the model stays loaded


def test_model_folders_are_in_hf_layout(manager):
    folder = manager.slot("llm", TINY_LLM).model
    assert folder is not None
    assert Path(folder.folder).parent.parent.name == "models--lpengine-testing--tiny-llm"


def speech(**fields: Any) -> dict[str, Any]:
    return parse(ROUTES["text-to-speech"], {"model_id": VITS, **fields}, form=False)


def test_text_to_speech_answers_a_44k_wav_priced_per_character(manager):
    assert TextToSpeech.prepare(speech(text="héllo")).units == 5000  # code points
    doc = run(manager, "text-to-speech", VITS, speech(text="hello world"))
    url = doc["audio"]["url"]
    assert url.startswith("data:audio/wav;base64,")
    with wave.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (44_100, 1, 2)
        assert w.getnframes() > 1000


@pytest.mark.parametrize(
    ("text", "msg"),
    [("", "Text input must be provided."), ("  ", "Text input must be provided."),
     ("x" * (MAX_CHARS + 1), f"text: at most {MAX_CHARS} characters, got {MAX_CHARS + 1}")],
)  # fmt: skip
def test_text_to_speech_refuses_empty_or_huge_text(text, msg):
    with pytest.raises(AIError) as err:
        TextToSpeech.prepare(speech(text=text))
    assert (err.value.status, err.value.msg) == (400, msg)


def test_pipelines_that_cannot_batch_ignore_batching_flags(tmp_path_factory):
    flags = {"max_batch_size": 8, "max_wait_ms": 100}
    models = [{"pipeline": "llm", "model_id": TINY_LLM, "optimization_flags": flags}]
    m = ModelManager(models_dir(tmp_path_factory), parse_ai_models(json.dumps(models)),
                     CapabilityRegistry("1"), device="cpu")  # fmt: skip
    slot = m.slot("llm", TINY_LLM)
    assert (slot.max_batch_size, slot.max_wait_ms) == (1, 0.0)  # no request waits for company
