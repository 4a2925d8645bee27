"""Acceptance: the real livepeer-gateway SDK runs a `noop` live-video-to-video job against a
`python -m lpengine.serve` subprocess (issue 8, item 6): ~7 s of frames out and back, a control
message, events, close() tearing everything down."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import ServerProcess, run_sdk_script

pytestmark = [pytest.mark.net, pytest.mark.slow]

SCRIPT = Path(__file__).resolve().parents[1] / "live" / "sdk_lv2v.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess("-dataDir", str(tmp_path_factory.mktemp("data")), "-monitor")
    yield srv
    srv.stop()


def run_sdk(python: Path, **command: object) -> dict:
    result = run_sdk_script(python, SCRIPT, command, timeout=90)
    assert "error" not in result, result
    return dict(result)


def test_sdk_noop_round_trip(server, sdk_python):
    result = run_sdk(sdk_python, url=server.url, seconds=7, fps=30)
    assert result["received"] >= 0.95 * result["sent"], result
    assert result["in_order"]
    events = [e["event"] for e in result["events"]]
    types = [e["type"] for e in events]
    assert "runner_receive_stream_request" in types and "status" in types, types
    params = [e["inference_status"]["last_params"] for e in events if e["type"] == "status"]
    assert {"prompt": "from the sdk"} in params  # the control write reached the pipeline
    # close() DELETEd the input: the job ended and all four channels are gone.
    mid = result["manifest_id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = [
            httpx.get(f"{server.url}/ai/trickle/{mid}{s}/next", verify=False).status_code
            for s in ("", "-out", "-control", "-events")
        ]
        if status == [404] * 4:
            break
        time.sleep(0.2)
    assert status == [404] * 4
    figures = {k: v for k, v in result.items() if k != "events"}
    print("sdk noop 256x256 -> 512x512 @30fps:", figures)  # shown with pytest -s
