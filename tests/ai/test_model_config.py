from __future__ import annotations

import json
from fractions import Fraction

import pytest

from lpengine.ai.model_config import AIModelConfig, parse_ai_models
from lpengine.capabilities import Capability
from lpengine.pricing import WEI_PER_ETH, Price

GW = "0x" + "ab" * 20


def test_json_entries(tmp_path):
    entries = [
        {
            "pipeline": "text-to-image",
            "model_id": "ByteDance/SDXL-Lightning",
            "warm": True,
            "price_per_unit": 4768371,
            "pixels_per_unit": 1,
        },
        {
            "pipeline": "llm",
            "model_id": "meta-llama/Llama-3.1-8B-Instruct",
            "capacity": 2,
            "url": "http://runner:8000",
            "token": "secret",
            "price_per_unit": "0.5",
            "currency": "eth",
            "pixels_per_unit": 1000,
            "gateway": GW.upper().replace("0X", "0x"),
        },
        {"pipeline": "live-video-to-video", "model_id": "noop", "price_per_unit": 0.25},
    ]
    path = tmp_path / "aiModels.json"
    path.write_text(json.dumps(entries))
    models = parse_ai_models(str(path))
    assert models == parse_ai_models(json.dumps(entries))  # a file or the JSON inline
    sdxl, llm, noop = models
    assert sdxl.capability == Capability.TEXT_TO_IMAGE and sdxl.warm and sdxl.capacity == 1
    assert sdxl.price() == Price(Fraction(4768371))
    assert llm.capability == Capability.LLM and llm.capacity == 2 and llm.gateway == GW
    assert llm.price() == Price(Fraction(WEI_PER_ETH // 2, 1000))
    assert noop.gateway == "default"
    # No pixels_per_unit of its own: the base -pixelsPerUnit divides its price.
    assert noop.price() == Price(Fraction(1, 4)) and noop.price(5) == Price(Fraction(1, 20))
    assert parse_ai_models("llm:x:false")[0].price(5) is None  # no price: the base price
    assert "secret" not in repr(llm)  # tokens stay out of logs


def test_prices_in_a_currency_wait_for_a_price_feed():
    entries = [
        {"pipeline": "llm", "model_id": "a", "price_per_unit": 0.5, "currency": "usd"},
        {"pipeline": "llm", "model_id": "b", "price_per_unit": "3", "currency": "EUR",
         "pixels_per_unit": 4},
    ]  # fmt: skip
    a, b = parse_ai_models(json.dumps(entries))
    assert a.price() == Price(Fraction(1, 2), "USD") and a.currency == "USD"
    assert b.price() == Price(Fraction(3, 4), "EUR")


def test_csv_form():
    models = parse_ai_models("text-to-image:sdxl:true, upscale:sd-x2:false")
    assert models == (
        AIModelConfig("text-to-image", "sdxl", warm=True),
        AIModelConfig("upscale", "sd-x2", warm=False),
    )
    assert parse_ai_models("  ") == ()


@pytest.mark.parametrize(
    "value,named",
    [
        ('[{"model_id": "x"}]', "aiModels[0]: missing 'pipeline'"),
        ('[{"pipeline": "text-to-banana", "model_id": "x"}]', "aiModels[0].pipeline"),
        ('[{"pipeline": "llm", "model_id": ""}]', "aiModels[0].model_id"),
        ('[{"pipeline": "llm", "model_id": "x", "warm": "yes"}]', "aiModels[0].warm"),
        ('[{"pipeline": "llm", "model_id": "x", "capacity": 0}]', "aiModels[0].capacity"),
        (
            '[{"pipeline": "llm", "model_id": "x", "price_per_unit": -1}]',
            "aiModels[0].price_per_unit",
        ),
        (
            '[{"pipeline": "llm", "model_id": "x", "price_per_unit": 1, "currency": "U$"}]',
            "aiModels[0].price_per_unit",
        ),
        (
            '[{"pipeline": "llm", "model_id": "x", "pixels_per_unit": 0}]',
            "aiModels[0].pixels_per_unit",
        ),
        ('[{"pipeline": "llm", "model_id": "x", "colour": 1}]', "unknown field"),
        ('[{"pipeline": "llm", "model_id": "x", "gateway": "0x1"}]', "gateway"),
        ("[1]", "aiModels[0]: expected an object"),
        ("[{", "invalid JSON"),
        ("text-to-image", "aiModels[0]: expected <pipeline>:<model_id>:<warm>"),
    ],
)
def test_errors_name_the_entry_and_field(value, named):
    with pytest.raises(ValueError, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_ai_models(value)
