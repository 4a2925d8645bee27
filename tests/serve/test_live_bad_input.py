"""Bad input to POST /live-video-to-video and its trickle channels, through a real server:
bodies and params refused before anything starts, a publisher whose connection drops mid-segment
(the stream goes on with the next publisher), a subscriber that never reads (the others get
everything, and the stream still ends cleanly)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator

import httpx
import pytest

from lpengine.live.trickle_client import TricklePublisher
from tests.helpers import ServerProcess
from tests.live import gateway as lc
from tests.live.clips import decode_indices, ts_segments

pytestmark = [pytest.mark.net, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess("-dataDir", str(tmp_path_factory.mktemp("data")))
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log, srv.log


def gone(server: ServerProcess, mid: str) -> list[int]:
    return [
        httpx.get(f"{server.url}/ai/trickle/{mid}{s}/next", verify=False, timeout=15).status_code
        for s in ("", "-out", "-control", "-events")
    ]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", "invalid JSON body"),
        (b"[]", "expected an object"),
        (b'{"params": {}}', "model_id: required"),
        (b'{"model_id": "noop", "params": [1]}', "params: expected a JSON object"),
        (b'{"model_id": "noop", "params": {"width": 500}}', "width: expected 384-1024"),
        (b'{"model_id": "noop", "params": {"height": true}}', "height: expected an integer"),
    ],
)
def test_bad_bodies_and_params_are_refused_with_400(server, body, why):
    r = httpx.post(
        f"{server.url}/live-video-to-video",
        content=body,
        headers=lc.headers(server),
        verify=False,
        timeout=15,
    )
    assert r.status_code == 400 and why in r.text, (r.status_code, r.text)


def test_an_unknown_pipeline_is_503_and_refused_starts_leave_no_slot_taken(server):
    r = lc.start(server, {"model_id": "nonesuch"})
    assert r.status_code == 503 and "no live pipeline 'nonesuch'" in r.text, r.text
    for _ in range(4):  # all 4 noop slots are still free: each start succeeds
        r = lc.start(server, {"model_id": "noop"})
        assert r.status_code == 200, r.text
        httpx.delete(r.json()["publish_url"], verify=False, timeout=15)


def test_a_publisher_dropped_mid_segment_then_replaced_keeps_the_stream_going(server):
    job = lc.start(server, {"model_id": "noop"}).json()
    first = ts_segments(1.0)
    second = ts_segments(1.0, first=30)

    async def main() -> bytes:
        async with lc.client() as http:
            out = asyncio.ensure_future(lc.read_channel(http, job["subscribe_url"]))
            await lc.publish(http, job["publish_url"], first)
            pub = TricklePublisher(http, job["publish_url"])
            upload = await pub.segment()
            half = second[0][: len(second[0]) // 2]
            for _, data in half:
                await upload.write(data)
            upload._task.cancel()  # the connection drops mid-segment
            with pytest.raises(asyncio.CancelledError):
                await upload._task
            await lc.publish(http, job["publish_url"], ts_segments(1.0, first=60))  # reconnect
            await TricklePublisher(http, job["publish_url"]).close()
            return await asyncio.wait_for(out, 30)

    got = decode_indices(asyncio.run(main()))
    assert got == sorted(got) and got[-1] == 89, got
    assert sum(1 for i in got if i >= 60) >= 20, got  # the new publisher's frames came out
    assert gone(server, job["manifest_id"]) == [404] * 4


def test_a_subscriber_that_never_reads_does_not_hold_the_stream_up(server):
    job = lc.start(server, {"model_id": "noop"}).json()
    mid = job["manifest_id"]
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    stalled = []
    for path in (f"{mid}-out/0", f"{mid}-out/1", f"{mid}-events/0"):  # sent, never read
        sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", server.port), 15))
        sock.sendall(f"GET /ai/trickle/{path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        stalled.append(sock)

    async def main() -> bytes:
        async with lc.client() as http:
            out = asyncio.ensure_future(lc.read_channel(http, job["subscribe_url"]))
            await lc.publish(http, job["publish_url"], ts_segments(3.0, gop_s=0.5))
            await TricklePublisher(http, job["publish_url"]).close()
            return await asyncio.wait_for(out, 30)

    try:
        got = decode_indices(asyncio.run(main()))
        assert got == sorted(got) and got[-1] == 89 and len(got) >= 80, got
        assert gone(server, mid) == [404] * 4
    finally:
        for sock in stalled:
            sock.close()
    assert httpx.get(f"{server.url}/healthz", verify=False, timeout=15).status_code == 200
