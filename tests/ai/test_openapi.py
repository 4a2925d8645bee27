"""The committed OpenAPI schema (docs/openapi.json) is the one the routes are built from."""

from __future__ import annotations

import json
from pathlib import Path

from lpengine.ai.api import ROUTES, ValidationError, parse
from lpengine.ai.openapi import render, schema

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_committed_schema_has_not_drifted():
    assert COMMITTED.read_text(encoding="utf-8") == render(), (
        "regenerate it: python -m lpengine.ai.openapi > docs/openapi.json"
    )


def test_the_schema_names_ai_runners_operations_and_fields():
    doc = schema()
    ops = {p: doc["paths"][p]["post"]["operationId"] for p in doc["paths"]}
    assert ops == {
        "/text-to-image": "genTextToImage",
        "/image-to-image": "genImageToImage",
        "/upscale": "genUpscale",
        "/audio-to-text": "genAudioToText",
        "/llm": "genLLM",
        "/image-to-text": "genImageToText",
        "/segment-anything-2": "genSegmentAnything2",
        "/image-to-video": "genImageToVideo",
        "/text-to-speech": "genTextToSpeech",
    }
    llm = doc["components"]["schemas"]["LLMRequest"]
    assert llm["required"] == ["messages"]
    assert llm["properties"]["messages"]["items"] == {"$ref": "#/components/schemas/LLMMessage"}
    assert doc["components"]["schemas"]["LLMResponse"]["required"] == [
        "id", "model", "created", "usage", "choices"
    ]  # fmt: skip
    assert doc["components"]["schemas"]["Body_genImageToText"]["required"] == ["image"]
    sam2 = doc["components"]["schemas"]["Body_genSegmentAnything2"]["properties"]
    assert sam2["point_coords"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert sam2["multimask_output"]["default"] is True
    i2v = doc["components"]["schemas"]["Body_genImageToVideo"]["properties"]
    assert (i2v["fps"]["default"], i2v["num_inference_steps"]["default"]) == (6, 25)
    body = doc["components"]["schemas"]["TextToImageParams"]
    assert body["required"] == ["prompt"]
    assert body["properties"]["height"]["default"] == 576
    assert doc["components"]["schemas"]["Body_genAudioToText"]["required"] == ["audio"]
    assert json.loads(json.dumps(doc)) == doc


def test_parse_fills_defaults_and_lists_every_bad_field():
    out = parse(ROUTES["text-to-image"], {"prompt": "x"}, form=False)
    assert (out["width"], out["height"], out["num_inference_steps"], out["seed"]) == (
        1024,
        576,
        50,
        None,
    )
    form = parse(
        ROUTES["upscale"],
        {"prompt": "x", "image": b"png", "safety_check": "false", "seed": "5"},
        form=True,
    )
    assert (form["safety_check"], form["seed"]) == (False, 5)
    try:
        parse(ROUTES["text-to-image"], {"width": "64", "guidance_scale": True}, form=False)
    except ValidationError as err:
        assert err.detail == [
            {"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"},
            {
                "loc": ["body", "width"],
                "msg": "Input should be a valid integer",
                "type": "int_parsing",
            },
            {
                "loc": ["body", "guidance_scale"],
                "msg": "Input should be a valid number",
                "type": "float_parsing",
            },
        ]
    else:
        raise AssertionError("expected a ValidationError")
