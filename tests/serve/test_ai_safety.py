"""`nsfw` over HTTP: a real server whose models dir holds a tiny safety checker that flags every
image, called by a paying gateway with and without `safety_check`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count

import httpx
import pytest

from lpengine.ai.model_dir import snapshot_dir
from lpengine.ai.safety_checker import MODEL_ID
from lpengine.net import lp_rpc_pb2 as pb
from lpengine.testing import TINY_MODELS, hf_snapshot_dir, link_model
from lpengine.testing.tiny_transformers import write_tiny_safety_checker
from tests.ai.models import models_dir
from tests.helpers import ServerProcess
from tests.serve.paying_gateway import WireGateway, paid_headers

pytestmark = pytest.mark.net

SD = TINY_MODELS["text-to-image"]
NONCES = count()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("flagging-models")
    link_model(root, SD, snapshot_dir(models_dir(tmp_path_factory), SD))
    write_tiny_safety_checker(hf_snapshot_dir(root, MODEL_ID), threshold=-1.0)  # flags all
    models = [{"pipeline": "text-to-image", "model_id": SD, "warm": True, "capacity": 1}]
    srv = ServerProcess(
        "-dataDir", str(tmp_path_factory.mktemp("data")), "-network", "simulated",
        "-pricePerUnit", "1", "-pixelsPerUnit", "1000",
        "-aiModelsDir", str(root), "-aiModels", json.dumps(models),
    )  # fmt: skip
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log, srv.log


def text_to_image(server: ServerProcess, gateway: WireGateway, info: pb.OrchestratorInfo,
                  **fields: object) -> list[dict[str, object]]:  # fmt: skip
    hdrs = paid_headers(gateway, info, [next(NONCES)], b"ai-job")
    body = {"model_id": SD, "prompt": "a cat", "width": 64, "height": 48, "seed": 5,
            "num_inference_steps": 2, "num_images_per_prompt": 2, **fields}  # fmt: skip
    r = httpx.post(f"{server.url}/text-to-image", headers=hdrs, json=body, verify=False,
                   timeout=120)  # fmt: skip
    assert r.status_code == 200, r.text
    images: list[dict[str, object]] = r.json()["images"]
    return images


def test_the_checker_is_loaded_with_the_model_and_shown_in_status(server, info):
    status = httpx.get(f"{server.cli_url}/status").json()
    assert status["ai_models"][f"text-to-image/{SD}"]["safety_checker"] == "loaded"
    assert f"loaded safety checker {MODEL_ID} on cpu" in server.log


def test_nsfw_is_the_checkers_flag_when_asked_for(server, gateway, info):
    default = text_to_image(server, gateway, info)  # safety_check defaults to true
    assert [(i["seed"], i["nsfw"]) for i in default] == [(5, True), (6, True)]
    skipped = text_to_image(server, gateway, info, safety_check=False)
    assert [(i["seed"], i["nsfw"]) for i in skipped] == [(5, False), (6, False)]
