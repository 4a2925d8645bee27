"""Acceptance: the real livepeer-gateway 1.0.0 SDK's `submit_byoc_job` against a
`python -m lpengine.serve` subprocess forwarding to an echo worker process (issue #9)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.byoc.echo_worker import WorkerProcess
from tests.helpers import ServerProcess, free_port, run_sdk_script

pytestmark = [pytest.mark.net, pytest.mark.slow]

SECRET = "sdk-secret"
SDK_BYOC = Path(__file__).resolve().parents[1] / "byoc" / "sdk_byoc.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    worker = WorkerProcess(free_port())
    srv = ServerProcess("-dataDir", str(tmp_path_factory.mktemp("data")), "-orchSecret", SECRET)
    doc = {"name": "echo", "url": worker.url, "capacity": 2, "token": "worker-token"}
    r = httpx.post(
        f"{srv.url}/capability/register",
        content=json.dumps(doc),
        headers={"Authorization": SECRET},
        verify=False,
    )
    assert r.text == "ok", r.text
    yield srv
    srv.stop()
    worker.stop()
    assert "Traceback" not in srv.log, srv.log


@pytest.fixture(scope="module")
def submit(sdk_python: Path):  # type: ignore[no-untyped-def]
    def call(**command: Any) -> Any:
        return run_sdk_script(sdk_python, SDK_BYOC, command)

    return call


def test_submit_byoc_job(server, submit):
    payload = {"prompt": "a dragon", "n": 2}
    result = submit(url=server.url, capability="echo", payload=payload)
    assert "error" not in result, result
    assert result["status_code"] == 200
    assert result["orchestrator_url"] == server.url
    assert result["balance"] == "0"  # off-chain: nothing charged, but the header is there
    assert result["metadata"] == "echo-meta"
    echo = result["data"]
    assert echo["path"] == "echo"  # the SDK posts to /process/request/<capability>
    assert json.loads(echo["body"]) == payload
    assert echo["content_type"] == "application/json"
    assert echo["authorization"] == "Bearer worker-token"


def test_unknown_capability_answers_503(server, submit):
    result = submit(url=server.url, capability="nobody-has-this", payload={})
    # 503: the SDK moves on to the next orchestrator; with none left it says why.
    assert result["error"] == "NoOrchestratorAvailableError", result
    assert "HTTP 503: No capacity available for capability" in result["message"]
