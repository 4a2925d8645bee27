"""segment-anything-2 on the tiny Sam2Model: lpengine's pre/post-processing, the runner's
answer (Python-style strings, best score first) and its refusals."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from lpengine.ai.api import ROUTES, parse
from lpengine.ai.errors import AIError
from lpengine.ai.manager import ModelManager
from lpengine.ai.model_config import parse_ai_models
from lpengine.ai.pipelines.segment_anything_2 import SegmentAnything2
from lpengine.capability_registry import CapabilityRegistry
from lpengine.testing import TINY_MODELS
from tests.ai.models import models_dir, png

SAM2 = TINY_MODELS["segment-anything-2"]


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelManager]:
    configs = parse_ai_models(json.dumps([{"pipeline": "segment-anything-2", "model_id": SAM2}]))
    m = ModelManager(models_dir(tmp_path_factory), configs, CapabilityRegistry("1"), device="cpu")
    yield m
    m.close()


def fields(**values: Any) -> dict[str, Any]:
    return parse(ROUTES["segment-anything-2"], {"model_id": SAM2, "image": png(40, 30), **values},
                 form=True)  # fmt: skip


def segment(manager: ModelManager, **values: Any) -> dict[str, Any]:
    slot = manager.slot("segment-anything-2", SAM2)
    prepared = slot.pipeline.prepare(fields(**values))
    return slot.pipeline.respond(prepared, manager.run(slot, prepared.items).results)


def test_a_point_gives_three_masks_at_the_image_size_best_first(manager):
    out = segment(manager, point_coords="[[10, 12]]", point_labels="[1]")
    masks, scores = np.asarray(ast.literal_eval(out["masks"])), ast.literal_eval(out["scores"])
    logits = np.asarray(ast.literal_eval(out["logits"]))
    assert masks.shape == (3, 30, 40) and masks.dtype == np.float64  # logits by default
    assert scores == sorted(scores, reverse=True)
    assert logits.shape == (3, 32, 32)  # the tiny model's low-res size (SAM2-large: 256)
    again = segment(manager, point_coords="[[10, 12]]", point_labels="[1]")
    assert again == out


def test_boolean_masks_boxes_and_a_previous_calls_logits(manager):
    first = segment(manager, box="[2, 3, 30, 25]", multimask_output="false",
                    return_logits="false")  # fmt: skip
    masks = np.asarray(ast.literal_eval(first["masks"]))
    assert masks.shape == (1, 30, 40) and masks.dtype == np.bool_
    previous = json.dumps(ast.literal_eval(first["logits"]))
    refined = segment(manager, box="[2, 3, 30, 25]", mask_input=previous, multimask_output="false")
    assert refined["masks"] != first["masks"]
    wrong = json.dumps(np.zeros((1, 16, 16)).tolist())
    with pytest.raises(AIError) as err:
        segment(manager, mask_input=wrong)
    assert err.value.status == 400 and "mask_input: expected 1x32x32" in err.value.msg


def test_normalized_coordinates_match_pixel_ones(manager):
    pixels = segment(manager, point_coords="[[20, 15]]", point_labels="[1]")
    unit = segment(manager, point_coords="[[0.5, 0.5]]", point_labels="[1]",
                   normalize_coords="false")  # fmt: skip
    assert unit["scores"] == pixels["scores"]


@pytest.mark.parametrize(
    ("values", "msg"),
    [
        ({"point_coords": "[[1, 2]", "point_labels": "[1]"},
         "Error parsing JSON for point_coords: Expecting ',' delimiter: line 1 column 8 (char 7)"),
        ({"point_coords": "[[1, 2]]"}, "point_coords and point_labels must be given together"),
        ({"point_coords": "[[1, 2, 3]]", "point_labels": "[1]"},
         "point_coords: expected N [x, y] pairs, one per point_labels"),
        ({"point_coords": "[[1, 2]]", "point_labels": "[1, 0]"},
         "point_coords: expected N [x, y] pairs, one per point_labels"),
        ({"box": "[1, 2, 3]"}, "box: expected [x1, y1, x2, y2]"),
        ({"box": '["a", 2, 3, 4]'}, "box: expected a 1-dimensional array of numbers"),
        ({"mask_input": "[[1]]"}, "mask_input: expected a 3-dimensional array of numbers"),
    ],
)  # fmt: skip
def test_bad_prompts_are_refused_naming_the_field(values, msg):
    with pytest.raises(AIError) as err:
        SegmentAnything2.prepare(fields(**values))
    assert (err.value.status, err.value.msg) == (400, msg)


def test_it_is_priced_in_input_pixels():
    assert SegmentAnything2.prepare(fields()).units == 40 * 30
