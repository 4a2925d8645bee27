"""AI results stored for download (ai-api.md §4): which answers carry URLs, and what they hold."""

from __future__ import annotations

import base64

import pytest

from lpengine.ai.results import AI_WORKER_PROTOCOL, store_results, stores_results
from lpengine.media.store import RenditionStore

BASE = "https://o.example:8935"


def data_url(media: str, data: bytes) -> str:
    return f"data:{media};base64," + base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("pipeline", "authorization", "stored"),
    [
        ("text-to-image", AI_WORKER_PROTOCOL, True),
        ("text-to-image", "", False),  # gateways through v0.7.9-ai.3: data URLs
        ("upscale", "Bearer x", False),
        ("image-to-video", "", True),
        ("text-to-speech", "", True),
        ("audio-to-text", AI_WORKER_PROTOCOL, False),  # text answers pass through
        ("llm", AI_WORKER_PROTOCOL, False),
    ],
)
def test_which_answers_carry_stored_urls(pipeline: str, authorization: str, stored: bool):
    assert stores_results(pipeline, authorization) is stored


def test_images_are_stored_one_url_each_under_the_request():
    store = RenditionStore()
    images = [{"url": data_url("image/png", data), "seed": seed, "nsfw": False}
              for seed, data in ((1, b"one"), (2, b"two"))]  # fmt: skip
    body = {"images": images}
    out = store_results(body, "text-to-image", store, BASE + "/", "req1")
    urls = [i["url"] for i in out["images"]]
    assert all(u.startswith(BASE + "/stream/req1/") and u.endswith(".png") for u in urls)
    assert [store.get(u.removeprefix(BASE + "/stream/")) for u in urls] == [b"one", b"two"]
    assert [(i["seed"], i["nsfw"]) for i in out["images"]] == [(1, False), (2, False)]


def test_audio_is_stored_as_wav():
    store = RenditionStore()
    out = store_results({"audio": {"url": data_url("audio/wav", b"RIFF")}}, "text-to-speech",
                        store, BASE, "req2")  # fmt: skip
    assert out["audio"]["url"].endswith(".wav")
    assert store.get(out["audio"]["url"].removeprefix(BASE + "/stream/")) == b"RIFF"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://elsewhere/x.png", "expected a base64 data URL"),
        (data_url("image/gif", b"x"), "unexpected media type 'image/gif'"),
        ("data:image/png;base64,@@@", "bad base64"),
    ],
)
def test_what_is_not_a_known_data_url_is_refused(url: str, message: str):
    with pytest.raises(ValueError, match=message):
        store_results({"images": [{"url": url}]}, "upscale", RenditionStore(), BASE, "r")


def test_a_result_larger_than_the_store_is_refused():
    with pytest.raises(ValueError, match="exceeds the results store"):
        store_results({"images": [{"url": data_url("image/png", b"x" * 11)}]}, "upscale",
                      RenditionStore(max_bytes=10), BASE, "r")  # fmt: skip
