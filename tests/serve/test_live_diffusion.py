"""A live-video-to-video model from -aiModels through a real server subprocess: the tiny random-
weight Stable Diffusion of `lpengine.testing`, loaded in the background at start, advertised
warm once loaded, a stream through the StreamDiffusion-style pipeline with params from the start
body and a prompt update on the control channel; a model that cannot load is not advertised."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import av
import httpx
import numpy as np
import pytest

from lpengine.capabilities import Capability
from lpengine.net import lp_rpc_pb2 as pb
from lpengine.testing.tiny_models import TINY_SD
from tests.ai.models import models_dir
from tests.helpers import ServerProcess, unary
from tests.live import gateway as lc
from tests.live.clips import ts_segments

pytestmark = [pytest.mark.net, pytest.mark.slow]

SIZE = 384  # the smallest live size (BaseParams); the tiny model takes any multiple of 8
MISSING = "nobody/missing-sd"
PARAMS = {"width": SIZE, "height": SIZE, "prompt": "a cat", "strength": 0.8}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    models = [
        {"pipeline": "live-video-to-video", "model_id": TINY_SD, "warm": True},
        {"pipeline": "live-video-to-video", "model_id": MISSING, "warm": True},
    ]
    srv = ServerProcess(
        "-dataDir",
        str(tmp_path_factory.mktemp("data")),
        "-aiModelsDir",
        str(models_dir(tmp_path_factory)),
        "-aiModels",
        json.dumps(models),
    )
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log, srv.log


def live_models(server: ServerProcess) -> dict[str, Any]:
    with server.grpc_channel() as channel:
        info = unary(channel, "GetOrchestrator", pb.OrchestratorInfo)(
            pb.OrchestratorRequest(), timeout=30
        )
    per_cap = info.capabilities.constraints.PerCapability
    return dict(per_cap[Capability.LIVE_VIDEO_TO_VIDEO].models)


def start_once_loaded(server: ServerProcess, body: dict[str, Any]) -> httpx.Response:
    """Starts a stream, again while the model loads (503 `still loading`, as no capacity)."""
    deadline = time.monotonic() + 120
    while True:
        r = lc.start(server, body)
        if "still loading" not in r.text or time.monotonic() > deadline:
            return r
        assert r.status_code == 503 and "insufficient capacity" in r.text, r.text
        time.sleep(0.2)


def rgb_frames(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data), format="mpegts") as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_a_stream_runs_through_the_loaded_model_with_a_prompt_update(server):
    body = {"model_id": TINY_SD, "params": {**PARAMS, "num_inference_steps": 1, "seed": 3}}
    r = start_once_loaded(server, body)
    assert r.status_code == 200, r.text
    job = r.json()
    models = live_models(server)
    assert MISSING not in models and "noop" in models
    sd = models[TINY_SD]
    assert sd.warm and (sd.capacity, sd.capacityInUse) == (0, 1)  # capacity 1, in use
    busy = lc.start(server, body)
    assert busy.status_code == 503 and "slots are in use" in busy.text
    segments = ts_segments(2.0, fps=10, size=(SIZE, SIZE))

    async def main() -> tuple[bytes, list[dict[str, Any]]]:
        events: list[dict[str, Any]] = []
        async with lc.client() as http:
            out = asyncio.ensure_future(lc.read_channel(http, job["subscribe_url"]))
            ev = asyncio.ensure_future(lc.read_events(http, job["events_url"], events))
            await lc.publish(http, job["publish_url"], segments[:1])
            ctl = lc.TricklePublisher(http, job["control_url"], "application/json")
            await ctl.write(b'{"type":"update","params":{"prompt":"a lighthouse"}}')
            await ctl.write(b'{"strength": 7}')  # refused: an error event, the stream goes on
            await lc.publish(http, job["publish_url"], segments[1:])
            await lc.TricklePublisher(http, job["publish_url"]).close()  # DELETE: job over
            data = await asyncio.wait_for(out, 60)
            await asyncio.wait_for(ev, 30)
        return data, events

    data, events = asyncio.run(main())
    inputs = rgb_frames(b"".join(chunk for seg in segments for _, chunk in seg))
    outputs = rgb_frames(data)
    assert len(outputs) >= 5, len(outputs)
    assert {o.shape for o in outputs} == {(SIZE, SIZE, 3)}
    # Every output frame is the model's, far from any input frame (noop would give back one).
    diffs = [min(np.abs(o.astype(int) - i).mean() for i in inputs) for o in outputs]
    assert min(diffs) > 10, diffs
    statuses = [e["event"] for e in events if e["event"]["type"] == "status"]
    prompts = [s["inference_status"]["last_params"].get("prompt") for s in statuses]
    assert prompts[0] == "a cat" and prompts[-1] == "a lighthouse", prompts
    assert statuses[-1]["inference_status"]["last_params"]["strength"] == 0.8
    errors = [e["event"]["message"] for e in events if e["event"]["type"] == "error"]
    assert any("strength" in m for m in errors), errors
    gone = httpx.get(job["subscribe_url"] + "/next", verify=False)
    assert gone.status_code == 404
    assert live_models(server)[TINY_SD].capacity == 1  # the slot came back


def test_a_model_that_cannot_load_is_not_offered_and_the_log_says_why(server):
    r = start_once_loaded(server, {"model_id": MISSING})
    assert r.status_code == 503 and f"no live pipeline {MISSING!r}" in r.text, r.text
    assert f"live-video-to-video/{MISSING} is not advertised" in server.log
    assert f"{MISSING!r} is not in" in server.log  # why: the folder is not there
    assert MISSING not in live_models(server)
