"""BYOC streams over the wire, off-chain (protocol.md §4.8): /ai/stream/start opens the trickle
channels and starts a real worker process that reads the input channel and writes `-out` and
`-data`; /update reaches it through `-control` and `/stream/params`; /stop and a DELETEd input
end the stream (channels closed, an event, the slot freed); bad input is refused by name."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from lpengine.live.trickle_client import TricklePublisher, TrickleSubscriber
from tests.byoc.echo_worker import WorkerProcess
from tests.helpers import ServerProcess, free_port
from tests.serve.test_byoc import byoc_models

pytestmark = pytest.mark.net

SECRET = "stream-secret"
STREAM_WORKER = Path(__file__).parents[1] / "byoc" / "stream_worker.py"
ALL_CHANNELS = {
    "enable_video_ingress": True,
    "enable_video_egress": True,
    "enable_data_output": True,
}


@dataclass(frozen=True)
class Node:
    server: ServerProcess
    worker: WorkerProcess
    client: httpx.Client


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    worker = WorkerProcess(free_port(), script=STREAM_WORKER)
    srv = ServerProcess("-dataDir", str(tmp_path_factory.mktemp("data")), "-orchSecret", SECRET)
    client = httpx.Client(base_url=srv.url, verify=False, timeout=30)
    doc = {"name": "streamer", "url": worker.url, "capacity": 1, "token": "tok"}
    r = client.post(
        "/capability/register", content=json.dumps(doc), headers={"Authorization": SECRET}
    )
    assert r.text == "ok", r.text
    yield Node(srv, worker, client)
    client.close()
    srv.stop()
    worker.stop()
    assert "Traceback" not in srv.log, srv.log


def livepeer(
    stream_id: str,
    capability: str = "streamer",
    parameters: Any = ALL_CHANNELS,
    timeout_s: int = 30,
) -> str:
    doc = {
        "id": stream_id, "request": json.dumps({"stream_id": stream_id}),
        "parameters": parameters if isinstance(parameters, str) else json.dumps(parameters),
        "capability": capability, "timeout_seconds": timeout_s,
    }  # fmt: skip
    return base64.b64encode(json.dumps(doc).encode()).decode()


def call(node: Node, verb: str, stream_id: str, body: Any = None, **kw: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
    headers = {"Livepeer": livepeer(stream_id, **kw), "Content-Type": "application/json"}
    return node.client.post(f"/ai/stream/{verb}", content=content, headers=headers)


def free(node: Node) -> int:
    """Free slots of `streamer` as GetOrchestrator advertises them (none: not advertised)."""
    return byoc_models(node.server).get("streamer", 0)


def worker_state(node: Node) -> dict[str, Any]:
    return dict(httpx.get(f"{node.worker.url}/streams").json())


async def read_events(http: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    """Every event until the channel ends."""
    sub, events = TrickleSubscriber(http, url, start=0), []
    while (data := await sub.read()) is not None:
        if data:
            events.append(json.loads(data))
    return events


def test_a_stream_runs_over_trickle_until_stopped(node):
    r = call(node, "start", "s1", body={"params": {"prefix": "A:"}})
    assert r.status_code == 200, r.text
    base = f"{node.server.url}/ai/trickle/s1"
    urls = {h: r.headers[h] for h in ("x-publish-url", "x-subscribe-url", "x-data-url")}
    assert urls == {
        "x-publish-url": base, "x-subscribe-url": base + "-out", "x-data-url": base + "-data",
    }  # fmt: skip
    assert r.json()["events_url"] == r.headers["x-events-url"] == base + "-events"
    assert r.json()["publish_url"] == base and r.json()["subscribe_url"] == base + "-out"
    seen = worker_state(node)["s1"]
    assert seen["urls"]["subscribe_url"] == base and seen["urls"]["publish_url"] == base + "-out"
    assert seen["urls"]["control_url"] == base + "-control"
    assert seen["authorization"] == "Bearer tok"
    assert free(node) == 0  # the stream holds the only slot
    r = call(node, "start", "s2")
    assert (r.status_code, r.text) == (503, "No capacity available for capability\n")

    async def run() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(verify=False, timeout=30) as http:
            events = asyncio.ensure_future(read_events(http, base + "-events"))
            pub = TricklePublisher(http, base)
            out = TrickleSubscriber(http, base + "-out")
            data = TrickleSubscriber(http, base + "-data")
            await pub.write(b"frame-1")
            assert await out.read() == b"A:frame-1"
            assert json.loads(await data.read() or b"") == {"seq": 0, "bytes": 7}
            r = await asyncio.to_thread(call, node, "update", "s1", {"prefix": "B:"})
            assert r.status_code == 200 and r.json()["params"]["prefix"] == "B:", r.text
            await pub.write(b"frame-2")
            assert await out.read() == b"B:frame-2"
            r = await asyncio.to_thread(call, node, "stop", "s1")
            assert (r.status_code, r.json()) == (200, {"stopped": "s1"})
            assert await out.read() is None  # -out closed at once
            with pytest.raises(Exception, match="not found"):
                await pub.write(b"frame-3")  # the input channel is gone
            return await asyncio.wait_for(events, 10)

    events = asyncio.run(run())
    kinds = [e["type"] for e in events]
    assert kinds == ["worker_started", "control", "stream_stopped"], events
    assert events[1]["params"] == {"prefix": "B:"}  # read by the worker from -control
    assert events[2]["reason"] == "stopped by the gateway"
    seen = worker_state(node)["s1"]
    assert seen["stop_calls"] == 1 and seen["segments"] == 2
    assert seen["control"] == [{"prefix": "B:"}]
    assert free(node) == 1
    r = node.client.get("/ai/trickle/s1-control/next")
    assert r.status_code == 404


def test_deleting_the_input_channel_stops_the_stream(node):
    r = call(node, "start", "gone")
    assert r.status_code == 200, r.text
    assert free(node) == 0
    assert node.client.delete("/ai/trickle/gone").status_code == 200
    assert free(node) == 1  # freed by the close, synchronously
    assert node.client.get("/ai/trickle/gone-out/next").status_code == 404
    deadline = time.monotonic() + 10
    while worker_state(node)["gone"]["stop_calls"] == 0:  # the worker is told after the DELETE
        assert time.monotonic() < deadline, "the worker was never told to stop"
        time.sleep(0.02)
    r = call(node, "stop", "gone")
    assert (r.status_code, r.text) == (404, "Stream not found: 'gone' of capability 'streamer'\n")


def test_only_the_enabled_channels_are_opened(node):
    r = call(node, "start", "ctl", parameters={})
    assert r.status_code == 200, r.text
    assert "x-publish-url" not in r.headers and "x-data-url" not in r.headers
    assert node.client.get("/ai/trickle/ctl/next").status_code == 404
    assert node.client.get("/ai/trickle/ctl-control/next").status_code == 200
    assert call(node, "stop", "ctl").status_code == 200


def test_a_worker_that_refuses_to_start_is_relayed_and_frees_everything(node):
    r = call(node, "start", "nope", body={"params": {"fail": 500}})
    assert (r.status_code, r.text) == (500, "worker refuses to start")
    assert node.client.get("/ai/trickle/nope-control/next").status_code == 404
    assert free(node) == 1


@pytest.mark.parametrize(
    ("verb", "stream_id", "kw", "body", "status", "text"),
    [
        ("start", "bad", {}, b"[1]", 400, "Invalid JSON body: expected an object, got list"),
        ("start", "bad", {}, b"{", 400, "Invalid JSON body: Expecting property name"),
        ("start", "bad", {"parameters": "{x"}, b"{}", 400, "Invalid JSON parameters"),
        ("start", "bad", {"parameters": {"enable_data_output": "yes"}}, b"{}", 400,
         "Invalid JSON parameters: enable_data_output: expected a boolean"),
        ("start", "a/b", {}, b"{}", 400, "id: expected the stream id"),
        ("start", "_hidden", {}, b"{}", 400, "id: expected the stream id"),
        ("start", "x", {"capability": "nobody"}, b"{}", 503,
         "No capacity available for capability"),
        ("start", "x", {"timeout_s": 0}, b"{}", 400, "no timeout_seconds set with request"),
        ("stop", "unknown", {}, b"{}", 404, "Stream not found: 'unknown'"),
        ("update", "unknown", {}, b"{}", 404, "Stream not found: 'unknown'"),
        ("update", "x", {"capability": "nobody"}, b"{}", 400, "Could not get job price"),
        ("start", "big", {}, b" " * ((1 << 20) + 1), 413, "request body larger than"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_by_name(node, verb, stream_id, kw, body, status, text):
    r = call(node, verb, stream_id, body, **kw)
    assert r.status_code == status and r.text.startswith(text), r.text
    assert free(node) == 1  # no slot kept by a refusal


def test_bad_update_and_a_duplicate_id(node):
    assert call(node, "start", "dup").status_code == 200
    try:
        r = call(node, "update", "dup", b"not json")
        assert r.status_code == 400 and r.text.startswith("Invalid JSON body"), r.text
        node.client.post(  # a second slot, so the duplicate is refused for its id, not capacity
            "/capability/register",
            content=json.dumps({"name": "streamer", "url": node.worker.url, "capacity": 2}),
            headers={"Authorization": SECRET},
        )
        r = call(node, "start", "dup")
        assert (r.status_code, r.text) == (400, "stream already exists: dup\n")
    finally:
        assert call(node, "stop", "dup").status_code == 200
        node.client.post(
            "/capability/register",
            content=json.dumps(
                {"name": "streamer", "url": node.worker.url, "capacity": 1, "token": "tok"}
            ),
            headers={"Authorization": SECRET},
        )
