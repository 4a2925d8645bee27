"""The batch AI routes end to end: a paying gateway (`-network simulated`) calls a real server
that loads the tiny models (and the real Whisper tiny.en) from an HF-layout folder."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from itertools import count

import httpx
import pytest
from PIL import Image

from lpengine.capabilities import Capability
from lpengine.net import lp_rpc_pb2 as pb
from lpengine.testing import TINY_MODELS
from tests.ai.models import WHISPER, models_dir, png, whisper_dir
from tests.helpers import ServerProcess
from tests.pm.conftest import GATEWAY_KEY
from tests.serve.paying_gateway import WireGateway, funded_gateway, header, payment_to_pb

pytestmark = pytest.mark.net

SD, UP = TINY_MODELS["text-to-image"], TINY_MODELS["upscale"]
MAX = 2**256 - 1
NONCES = count()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = models_dir(tmp_path_factory)
    whisper_dir(root)
    models = [
        {
            "pipeline": "text-to-image",
            "model_id": SD,
            "warm": True,
            "capacity": 2,
            "optimization_flags": {"max_batch_size": 2},
        },
        {"pipeline": "upscale", "model_id": UP, "capacity": 1},
        {"pipeline": "audio-to-text", "model_id": WHISPER, "capacity": 1},
    ]
    srv = ServerProcess(
        "-dataDir",
        str(tmp_path_factory.mktemp("data")),
        "-network",
        "simulated",
        "-pricePerUnit",
        "1000",
        "-pixelsPerUnit",
        "7",
        "-aiModelsDir",
        str(root),
        "-aiModels",
        json.dumps(models),
    )
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log, srv.log


@pytest.fixture(scope="module")
def gateway(server: ServerProcess) -> WireGateway:
    return funded_gateway(server.cli_url, GATEWAY_KEY)


@pytest.fixture(scope="module")
def info(server: ServerProcess, gateway: WireGateway) -> pb.OrchestratorInfo:
    with server.grpc_channel() as channel:
        return gateway.discover(channel)


def headers(gateway: WireGateway, info: pb.OrchestratorInfo, tickets: int = 1) -> dict[str, str]:
    payment = gateway.pay(info, [next(NONCES) for _ in range(tickets)])
    return {
        "Livepeer-Payment": header(payment_to_pb(payment)),
        "Livepeer-Segment": header(gateway.segment(info, b"ai-job")),
    }


def post(server: ServerProcess, path: str, hdrs: dict[str, str], **kw: object) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", headers=hdrs, verify=False, timeout=120, **kw)  # type: ignore[arg-type]


def balance(server: ServerProcess, gateway: WireGateway, key: str) -> Fraction | None:
    doc = httpx.get(f"{server.cli_url}/balance", params={"sender": gateway.checksum, "key": key})
    assert doc.status_code == 200, doc.text
    value = doc.json()["balance_wei"]
    return None if value is None else Fraction(value)


def ev_and_price(info: pb.OrchestratorInfo) -> tuple[Fraction, Fraction]:
    p = info.ticket_params
    ev = Fraction(int.from_bytes(p.face_value, "big") * int.from_bytes(p.win_prob, "big"), MAX)
    return ev, Fraction(info.price_info.pricePerUnit, info.price_info.pixelsPerUnit)


def test_models_are_advertised_with_their_capacity(info):
    caps = info.capabilities
    assert caps.capacities[Capability.TEXT_TO_IMAGE] == 2
    t2i = caps.constraints.PerCapability[Capability.TEXT_TO_IMAGE].models[SD]
    assert t2i.warm and t2i.capacity == 2
    assert not caps.constraints.PerCapability[Capability.UPSCALE].models[UP].warm


def test_text_to_image_is_paid_then_debited_its_pixels(server, gateway, info):
    r = post(
        server,
        "/text-to-image",
        headers(gateway, info),
        json={
            "model_id": SD,
            "prompt": "a cat",
            "width": 64,
            "height": 48,
            "seed": 5,
            "num_inference_steps": 2,
            "num_images_per_prompt": 2,
        },
    )
    assert r.status_code == 200, r.text
    images = r.json()["images"]
    assert [(i["seed"], i["nsfw"]) for i in images] == [(5, False), (6, False)]
    data = base64.b64decode(images[0]["url"].removeprefix("data:image/png;base64,"))
    assert Image.open(io.BytesIO(data)).size == (64, 48)
    ev, price = ev_and_price(info)
    assert balance(server, gateway, f"27_{SD}") == ev - 64 * 48 * 2 * price


def test_upscale_answers_on_the_trailing_slash_route_too(server, gateway, info):
    files = {"image": ("in.png", png(16, 16), "image/png")}
    data = {"model_id": UP, "prompt": "sharp", "num_inference_steps": "2", "seed": "9"}
    r = post(server, "/upscale/", headers(gateway, info), files=files, data=data)
    assert r.status_code == 200, r.text
    (image,) = r.json()["images"]
    assert image["seed"] == 9
    data_png = base64.b64decode(image["url"].split(",", 1)[1])
    assert Image.open(io.BytesIO(data_png)).size == (64, 64)
    ev, price = ev_and_price(info)
    assert balance(server, gateway, f"30_{UP}") == ev - 16 * 16 * price


def test_unpaid_work_is_refused_and_its_place_given_back(server, gateway, info):
    r = post(
        server,
        "/text-to-image",
        headers(gateway, info, tickets=0),
        json={"model_id": SD, "prompt": "x", "width": 64, "height": 64},
    )
    assert (r.status_code, r.text) == (400, "Insufficient balance\n")
    with server.grpc_channel() as channel:
        again = gateway.discover(channel)
    assert again.capabilities.constraints.PerCapability[27].models[SD].capacity == 2


@pytest.mark.parametrize(
    ("path", "kwargs", "status", "body"),
    [
        (
            "/text-to-image",
            {"json": {"model_id": SD}},
            422,
            {"detail": [{"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}]},
        ),
        ("/text-to-image", {"content": b"{not json"}, 400, None),
        (
            "/text-to-image",
            {"json": {"model_id": "no/such", "prompt": "x"}},
            400,
            {"detail": {"msg": f"pipeline configured with {SD} but called with no/such."}},
        ),
        (
            "/text-to-image",
            {"json": {"model_id": SD, "prompt": "x", "width": 63}},
            400,
            {
                "detail": {
                    "msg": "`height` and `width` have to be divisible by 8 but are 576 and 63."
                }
            },
        ),
        (
            "/upscale",
            {
                "files": {"image": ("a.webp", b"RIFF0000WEBPVP8 ", "image/webp")},
                "data": {"model_id": UP, "prompt": "p"},
            },
            400,
            {"detail": {"msg": "image: unsupported format (expected PNG, JPEG or GIF)"}},
        ),
        (
            "/audio-to-text",
            {
                "files": {"audio": ("a.wav", b"not audio at all", "audio/wav")},
                "data": {"model_id": WHISPER},
            },
            415,
            {"detail": {"msg": "Unsupported audio format or malformed file."}},
        ),
    ],
)
def test_bad_input_is_refused_before_payment(server, gateway, info, path, kwargs, status, body):
    key = {"/text-to-image": f"27_{SD}", "/upscale": f"30_{UP}", "/audio-to-text": "31_x"}[path]
    before = balance(server, gateway, key)
    r = post(server, path, headers(gateway, info), **kwargs)
    assert r.status_code == status, r.text
    if body is not None:
        assert r.json() == body
    assert balance(server, gateway, key) == before  # nothing was paid


def test_bad_payment_headers_are_refused_as_go_does(server):
    r = post(
        server, "/text-to-image", {"Livepeer-Payment": "%%%"}, json={"model_id": SD, "prompt": "x"}
    )
    assert r.status_code == 402 and r.text.startswith("base64 decode error")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_audio_to_text_transcribes_speech(server, gateway, info, tmp_path):
    wav = tmp_path / "speech.wav"
    words = "the quick brown fox jumps over the lazy dog"
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(wav), words], check=True)
    files = {"audio": ("speech.wav", wav.read_bytes(), "audio/wav")}
    r = post(
        server,
        "/audio-to-text",
        headers(gateway, info, tickets=2),
        files=files,
        data={"model_id": WHISPER},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    text = body["text"].lower()
    for word in ("quick", "fox", "over", "lazy", "dog"):  # (tiny.en may hear "round" for "brown")
        assert word in text, body
    assert body["chunks"] and all(len(c["timestamp"]) == 2 for c in body["chunks"])
    assert "loaded audio-to-text/openai/whisper-tiny.en" in server.log
