"""BYOC over the wire, off-chain (protocol.md §4.8): registration guarded by -orchSecret, jobs
forwarded to a real worker process, go's refusals in go's order, capacity and health as
GetOrchestrator advertises them."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from lpengine.net import lp_rpc_pb2 as pb
from tests.byoc.echo_worker import WorkerProcess
from tests.helpers import ServerProcess, free_port, unary

pytestmark = pytest.mark.net

SECRET = "byoc-secret"


@pytest.fixture(scope="module")
def worker() -> Iterator[WorkerProcess]:
    w = WorkerProcess(free_port())
    yield w
    w.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, worker: WorkerProcess) -> Iterator[Any]:
    srv = ServerProcess(
        "-dataDir", str(tmp_path_factory.mktemp("data")), "-orchSecret", SECRET,
        "-byocHealthInterval", "0.1s",
    )  # fmt: skip
    client = httpx.Client(base_url=srv.url, verify=False, timeout=30)
    r = register(client, name="echo", url=worker.url, capacity=2, token="tok", price_per_unit=7)
    assert r.status_code == 200 and r.text == "ok", r.text
    yield srv, client
    client.close()
    srv.stop()
    assert "Traceback" not in srv.log, srv.log


def register(client: httpx.Client, secret: str = SECRET, **fields: Any) -> httpx.Response:
    return client.post(
        "/capability/register", content=json.dumps(fields), headers={"Authorization": secret}
    )


def livepeer(capability: str, timeout_s: Any = 30, request: str = "{}", **more: Any) -> str:
    doc = {"id": "job-1", "request": request, "capability": capability, **more}
    if timeout_s is not None:
        doc["timeout_seconds"] = timeout_s
    return base64.b64encode(json.dumps(doc).encode()).decode()


def job(
    client: httpx.Client,
    capability: str,
    subpath: str | None = None,
    body: bytes = b"{}",
    **kw: Any,
) -> httpx.Response:
    path = f"/process/request/{capability if subpath is None else subpath}"
    headers = {"Livepeer": livepeer(capability, **kw), "Content-Type": "application/json"}
    return client.post(path, content=body, headers=headers)


def byoc_models(srv: ServerProcess) -> dict[str, int]:
    """Capability 37's models and their advertised capacity, as GetOrchestrator says."""
    with srv.grpc_channel() as channel:
        info = unary(channel, "GetOrchestrator", pb.OrchestratorInfo)(
            pb.OrchestratorRequest(), timeout=5
        )
    models = info.capabilities.constraints.PerCapability[37].models
    return {name: m.capacity for name, m in models.items()}


def eventually(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    """The advertisement follows health checks every 0.1 s: poll it, bounded."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


# --- registration ---------------------------------------------------------------------------


def test_register_needs_the_secret(server):
    _, client = server
    for secret in ("wrong", ""):
        r = register(client, secret=secret, name="x", url="http://127.0.0.1:1", capacity=1)
        assert (r.status_code, r.text) == (400, "invalid authorization\n")
    r = client.post("/capability/unregister", content=b"echo")
    assert (r.status_code, r.text) == (400, "invalid authorization\n")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "body: expected a JSON object, got invalid JSON"),
        (b"[1, 2]", "body: expected a JSON object, got list"),
        (b'{"name": "x"}', "expected the fields 'name' and 'url'"),
        (b'{"name": "x", "url": "http://h:1", "capacity": "2"}', "capacity: expected an integer"),
        (b'{"name": "x", "url": "http://h:1", "capacity": 0}', "capacity: expected a positive"),
        (b'{"name": "x", "url": "http://h:1", "capacity": true}', "capacity: expected an integer"),
        (b'{"name": "a b", "url": "http://h:1"}', "name: expected"),
        (b'{"name": "x", "url": "http://h:99999"}', "url: bad port"),
        (b'{"name": "x", "url": "ftp://h:1"}', "url: expected http://host:port"),
        (b'{"name": "x", "url": "http://h:1", "price_per_unit": -1}', "price_per_unit"),
    ],
)  # fmt: skip
def test_register_refuses_bad_json(server, body, says):
    _, client = server
    r = client.post("/capability/register", content=body, headers={"Authorization": SECRET})
    assert r.status_code == 400
    assert r.text.startswith("Error registering capability: ") and says in r.text, r.text


def test_register_refuses_a_currency_without_a_price_feed(server, worker):
    _, client = server
    r = register(client, name="usd", url=worker.url, capacity=1, price_per_unit=1, currency="USD")
    assert r.status_code == 400, r.text
    assert r.text.startswith("Error registering capability: currency USD needs a price feed")


def test_register_refuses_a_worker_that_is_not_there(server):
    _, client = server
    r = register(client, name="gone", url=f"http://127.0.0.1:{free_port()}", capacity=1)
    assert r.status_code == 400 and "cannot connect" in r.text, r.text
    r = register(client, name="gone", url="http://no-such-host.invalid:80", capacity=1)
    assert r.status_code == 400 and "cannot resolve no-such-host.invalid" in r.text, r.text
    assert "gone" not in byoc_models(server[0])


def test_advertised_with_its_price(server):
    srv, _ = server
    assert byoc_models(srv)["echo"] == 2
    with srv.grpc_channel() as channel:
        info = unary(channel, "GetOrchestrator", pb.OrchestratorInfo)(
            pb.OrchestratorRequest(), timeout=5
        )
    assert info.capabilities.capacities[37] >= 2
    prices = [
        (p.capability, p.constraint, p.pricePerUnit, p.pixelsPerUnit)
        for p in info.capabilities_prices
    ]
    assert (37, "echo", 7, 1) in prices  # 7 wei per second of compute


def test_reregister_updates_in_place_and_unregister(server, worker):
    srv, client = server
    assert register(client, name="temp", url=worker.url, capacity=1).text == "ok"
    assert byoc_models(srv)["temp"] == 1
    assert register(client, name="temp", url=worker.url, capacity=5).text == "ok"
    assert byoc_models(srv)["temp"] == 5
    h = {"Authorization": SECRET}
    assert client.post("/capability/unregister", content=b"temp", headers=h).text == "ok"
    assert "temp" not in byoc_models(srv)
    r = client.post("/capability/unregister", content=b"temp", headers=h)
    assert (r.status_code, r.text) == (400, "Error removing capability: 'temp' is not registered\n")
    assert (r := job(client, "temp")).status_code == 503, r.text


# --- jobs ------------------------------------------------------------------------------------


def test_job_is_forwarded_with_body_type_and_token(server):
    _, client = server
    r = job(client, "echo", body=b'{"prompt": "a cat"}')
    assert r.status_code == 200, r.text
    echo = r.json()
    assert echo == {
        "path": "echo",
        "body": '{"prompt": "a cat"}',
        "content_type": "application/json",
        "content_length": "19",
        "authorization": "Bearer tok",
    }
    assert r.headers["x-metadata"] == "echo-meta"
    assert r.headers["livepeer-balance"] == "0"  # off-chain: nothing to charge
    assert job(client, "echo", subpath="echo/deeper/path").json()["path"] == "echo/deeper/path"


@pytest.mark.parametrize(
    ("header", "status", "text"),
    [
        ("not base64!", 400, "Could not verify job creds"),
        (base64.b64encode(b"[1]").decode(), 400, "Could not verify job creds"),
        (livepeer("echo", timeout_s="30"), 400, "Could not verify job creds"),
        (livepeer("echo", timeout_s=1.5), 400, "Could not verify job creds"),
        (livepeer("echo", timeout_s=None), 400,
         "no timeout_seconds set with request, timeout_seconds is required"),
        (livepeer("echo", timeout_s=0), 400,
         "no timeout_seconds set with request, timeout_seconds is required"),
        (livepeer("nobody-registered-this"), 503, "No capacity available for capability"),
        (livepeer("echo", request="[1]"), 400, "Unable to unmarshal job request details err="),
        (livepeer("echo", request="{oops"), 400, "Unable to unmarshal job request details err="),
    ],
)  # fmt: skip
def test_job_refusals(server, header, status, text):
    _, client = server
    r = client.post("/process/request/echo", content=b"{}", headers={"Livepeer": header})
    assert r.status_code == status and r.text.startswith(text), r.text
    assert byoc_models(server[0])["echo"] == 2  # a refused job holds no slot


def test_missing_header(server):
    _, client = server
    r = client.post("/process/request/echo", content=b"{}")
    assert (r.status_code, r.text) == (400, "Could not verify job creds\n")


def test_capacity_is_reserved_while_a_job_runs(server, worker):
    srv, client = server
    assert register(client, name="single", url=worker.url, capacity=1).text == "ok"
    results: list[httpx.Response] = []
    first = threading.Thread(target=lambda: results.append(job(client, "single", "sleep/1")))
    first.start()
    eventually(lambda: byoc_models(srv)["single"] == 0)
    busy = job(client, "single")
    assert (busy.status_code, busy.text) == (503, "No capacity available for capability\n")
    assert job(client, "echo").status_code == 200  # other capabilities are unaffected
    first.join()
    assert results[0].status_code == 200 and results[0].json()["path"] == "sleep/1"
    assert byoc_models(srv)["single"] == 1


def test_worker_timeout(server):
    _, client = server
    start = time.monotonic()
    r = job(client, "echo", "sleep/5", timeout_s=1)
    took = time.monotonic() - start
    assert r.status_code == 500, r.text
    assert r.text == "job not able to be processed err=context deadline exceeded\n"
    assert 1 <= took < 4
    r = job(client, "echo", "endless", timeout_s=1)  # a body that never ends
    assert r.status_code == 500 and "context deadline exceeded" in r.text
    assert byoc_models(server[0])["echo"] == 2


def test_worker_errors_are_relayed(server):
    _, client = server
    r = job(client, "echo", "status/503")
    assert (r.status_code, r.text) == (503, "worker says 503\n")
    assert r.headers["livepeer-balance"] == "0"
    r = job(client, "echo", "status/422")
    assert (r.status_code, r.text) == (422, "worker says 422\n")
    assert job(client, "echo").status_code == 200


def test_sse_is_relayed_with_the_balance_before_done(server):
    _, client = server
    headers = {"Livepeer": livepeer("echo"), "Content-Type": "application/json"}
    with client.stream("POST", "/process/request/sse/3/0.05", headers=headers) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["livepeer-payment-balance"] == "0"
        lines = [line for line in r.iter_lines() if line]
    assert lines == [
        'data: {"i": 0}',
        'data: {"i": 1}',
        'data: {"i": 2}',
        'data: {"balance": 0.000}',
        "data: [DONE]",
    ]


def test_worker_401_removes_the_capability(server, worker):
    srv, client = server
    assert register(client, name="badtoken", url=worker.url, capacity=1).text == "ok"
    r = job(client, "badtoken", "status/401")
    assert r.status_code == 500
    assert r.text == "job not able to be processed, removing capability err=401\n"
    assert "badtoken" not in byoc_models(srv)


def test_garbage_worker(server):
    srv, client = server
    garbage = WorkerProcess(free_port(), "--garbage")
    try:
        assert register(client, name="garbage", url=garbage.url, capacity=1).text == "ok"
        r = job(client, "garbage")
        assert r.status_code == 500, r.text
        assert r.text.startswith("job not able to be processed, removing capability err=")
        assert job(client, "echo").status_code == 200
    finally:
        garbage.stop()
    eventually(lambda: byoc_models(srv).get("garbage") == 0)


def test_health_checks_take_a_worker_out_and_back(server):
    srv, client = server
    port = free_port()
    flaky = WorkerProcess(port)
    try:
        assert register(client, name="flaky", url=flaky.url, capacity=3).text == "ok"
        assert byoc_models(srv)["flaky"] == 3
        httpx.post(f"{flaky.url}/admin/health", content=b"503")
        eventually(lambda: byoc_models(srv)["flaky"] == 0)
        assert (r := job(client, "flaky")).status_code == 503, r.text
        httpx.post(f"{flaky.url}/admin/health", content=b"200")
        eventually(lambda: byoc_models(srv)["flaky"] == 3)
        flaky.stop()  # refuses connections now
        eventually(lambda: byoc_models(srv)["flaky"] == 0)
        flaky = WorkerProcess(port)  # back on the same port: back by itself, no re-registration
        eventually(lambda: byoc_models(srv)["flaky"] == 3)
        assert job(client, "flaky").status_code == 200
    finally:
        flaky.stop()
