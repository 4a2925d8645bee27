"""POST /live-video-to-video and the in-process live session, through a real server subprocess
and lpengine's trickle client (protocol.md §4.6, ai-api.md §9)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.helpers import ServerProcess
from tests.live import gateway as lc
from tests.live.clips import decode_indices, ts_segments

pytestmark = [pytest.mark.net, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess("-dataDir", str(tmp_path_factory.mktemp("data")))
    yield srv
    srv.stop()


def test_a_stream_round_trips_with_control_and_events(server):
    r = lc.start(server, {"model_id": "noop", "params": {"width": 384, "height": 384}})
    assert r.status_code == 200, r.text
    job = r.json()
    mid = job["manifest_id"]
    assert len(mid) == 8
    base = f"{server.url}/ai/trickle/{mid}"
    assert job["publish_url"] == base and job["subscribe_url"] == base + "-out"
    assert job["control_url"] == base + "-control" and job["events_url"] == base + "-events"
    segments = ts_segments(3.0, fps=30, audio=True)

    async def main() -> tuple[bytes, list[dict[str, Any]]]:
        events: list[dict[str, Any]] = []
        async with lc.client() as http:
            out = asyncio.ensure_future(lc.read_channel(http, job["subscribe_url"]))
            ev = asyncio.ensure_future(lc.read_events(http, job["events_url"], events))
            ctl = lc.TricklePublisher(http, job["control_url"], "application/json")
            await ctl.write(b"not json")
            await ctl.write(b'{"keep":"alive"}')
            await ctl.write(b'{"type":"update","params":{"prompt":"cats"}}')
            await lc.publish(http, job["publish_url"], segments)
            await lc.TricklePublisher(http, job["publish_url"]).close()  # DELETE: job over
            data = await asyncio.wait_for(out, 20)
            await asyncio.wait_for(ev, 20)
        return data, events

    data, events = asyncio.run(main())
    got = decode_indices(data)
    assert len(got) >= 0.95 * 90, (len(got), str(got))
    assert got == sorted(got)
    kinds = [(e["queue_event_type"], e["event"]["type"]) for e in events]
    assert ("stream_trace", "runner_receive_stream_request") in kinds
    assert ("stream_trace", "runner_send_first_processed_segment") in kinds
    errors = [e["event"]["message"] for e in events if e["event"]["type"] == "error"]
    assert any("not JSON" in m for m in errors), errors
    statuses = [e["event"] for e in events if e["event"]["type"] == "status"]
    assert statuses[-1]["inference_status"]["last_params"] == {"prompt": "cats"}
    # Every channel is gone with the job.
    gone = httpx.get(f"{server.url}/ai/trickle/{mid}-out/next", verify=False)
    assert gone.status_code == 404
