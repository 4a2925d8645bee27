"""The trickle protocol at /ai/trickle/ through a real server subprocess: every row of
protocol.md §4.7. Channels come from live jobs (the node creates them; publishers cannot); the
tests use a job's control channel, which only the job itself reads."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import ServerProcess
from tests.live import gateway as lc

pytestmark = [pytest.mark.net, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess("-dataDir", str(tmp_path_factory.mktemp("data")))
    yield srv
    srv.stop()


@pytest.fixture
def channel(server: ServerProcess) -> Iterator[str]:
    """A fresh channel's URL (a new job's control channel); the job ends afterwards."""
    r = lc.start(server, {"model_id": "noop"})
    assert r.status_code == 200, r.text
    yield r.json()["control_url"]
    httpx.delete(r.json()["publish_url"], verify=False)


def http() -> httpx.Client:
    return httpx.Client(verify=False, timeout=10)


def test_create_answers_for_existing_channels_only(server, channel):
    with http() as c:
        assert c.post(channel, headers={"Expect-Content": "application/json"}).status_code == 200
        r = c.post(f"{server.url}/ai/trickle/nosuch")
        assert (r.status_code, r.text) == (404, "Stream not found\n")


def test_next_says_where_writing_continues(server, channel):
    with http() as c:
        r = c.get(f"{channel}/next")
        assert (r.status_code, r.text, r.headers["Lp-Trickle-Latest"]) == (200, "0", "0")
        assert c.post(f"{channel}/0", content=b"{}").headers["Lp-Trickle-Seq"] == "0"
        assert c.get(f"{channel}/next").headers["Lp-Trickle-Latest"] == "1"
        assert c.get(f"{server.url}/ai/trickle/nosuch/next").status_code == 404


def test_post_statuses(server, channel):
    with http() as c:
        r = c.post(f"{server.url}/ai/trickle/nosuch/0", content=b"x")
        assert (r.status_code, r.text) == (404, "Stream not found\n")
        assert r.headers["connection"] == "close"
        r = c.post(f"{channel}/abc", content=b"x")
        assert (r.status_code, r.text) == (400, "Invalid idx\n")
        r = c.post(f"{channel}/-1", content=b"{}")  # -1: nextWrite
        assert (r.status_code, r.headers["Lp-Trickle-Seq"]) == (200, "0")
        r = c.post(f"{channel}/1", content=b"")  # a zero-byte segment: idle rollover
        assert r.status_code == 200 and r.headers["Lp-Trickle-Seq"] == "1"
        assert r.headers["connection"] == "close" and "Lp-Trickle-Closed" not in r.headers
        assert c.get(f"{channel}/next").text == "2"  # nextWrite advanced anyway


def test_get_resolves_minus_one_and_minus_two(channel):
    with http() as c:
        for i in range(3):
            c.post(f"{channel}/{i}", content=f'{{"n":{i}}}'.encode())
        r = c.get(f"{channel}/-2")  # the newest written
        assert (r.text, r.headers["Lp-Trickle-Seq"]) == ('{"n":2}', "2")
        assert r.headers["content-type"] == "application/json"
        assert r.headers["Lp-Trickle-Latest"] == "3"  # it is not the next one to be written
        r = c.get(f"{channel}/1")
        assert (r.text, r.headers["Lp-Trickle-Seq"]) == ('{"n":1}', "1")


def test_ring_of_five_and_470(channel):
    with http() as c:
        for i in range(6):
            c.post(f"{channel}/{i}", content=b"{}")
        r = c.get(f"{channel}/0")  # fell out of the ring
        assert (r.status_code, r.text) == (470, "Entry not found")
        assert r.headers["Lp-Trickle-Latest"] == "6" and r.headers["Lp-Trickle-Seq"] == "0"
        # NOTE: the job's own reader waits for 6, whose slot (6 % 5) held 1: as in go.
        assert c.get(f"{channel}/1").status_code == 470
        assert c.get(f"{channel}/2").status_code == 200
        assert c.get(f"{channel}/9").status_code == 470  # too far ahead: no long-poll


def test_a_segment_is_relayed_while_it_uploads_and_long_polls(channel):
    # The subscriber asks for segment 0 before anything is written: it waits (long-poll),
    # then gets the first chunk while the upload is still open.
    async def main() -> None:
        async with lc.client() as client:
            request = client.build_request("GET", f"{channel}/0")
            get = asyncio.ensure_future(client.send(request, stream=True))
            await asyncio.sleep(0.2)
            assert not get.done()
            pub = lc.TricklePublisher(client, channel, "application/json")
            upload = await pub.segment()
            await upload.write(b'{"part":')
            r = await asyncio.wait_for(get, 5)
            assert r.status_code == 200 and r.headers["Lp-Trickle-Seq"] == "0"
            assert "Lp-Trickle-Latest" not in r.headers  # 0 was the next one to be written
            chunks = r.aiter_raw()
            assert await asyncio.wait_for(anext(chunks), 5) == b'{"part":'
            await upload.write(b"1}")
            assert await asyncio.wait_for(anext(chunks), 5) == b"1}"
            await upload.close()
            await r.aclose()

    asyncio.run(main())


def test_reset_ends_older_segments(channel):
    async def main() -> None:
        async with lc.client() as client:
            pub = lc.TricklePublisher(client, channel, "application/json")
            upload = await pub.segment()  # segment 0, left open
            await upload.write(b"{")
            reader = asyncio.ensure_future(client.get(f"{channel}/0"))
            await asyncio.sleep(0.2)
            assert not reader.done()
            r = await client.post(f"{channel}/3", content=b"{}", headers={"Lp-Trickle-Reset": "1"})
            assert r.status_code == 200
            got = await asyncio.wait_for(reader, 5)  # segment 0 ended by the reset
            assert got.status_code == 200 and got.content == b"{"
            await upload.close()

    asyncio.run(main())


def test_delete_a_segment(server, channel):
    async def main() -> None:
        async with lc.client() as client:
            reader = asyncio.ensure_future(client.get(f"{channel}/0"))  # long-polls 0
            await asyncio.sleep(0.2)
            r = await client.delete(f"{channel}/0")
            assert r.status_code == 200
            got = await asyncio.wait_for(reader, 5)  # closed with no byte: 200, empty
            assert got.status_code == 200 and got.content == b""
            assert got.headers["Lp-Trickle-Seq"] == "0" and "Lp-Trickle-Latest" in got.headers
            r = await client.delete(f"{channel}/4")
            assert (r.status_code, r.text) == (400, "Nonexistent segment\n")
            r = await client.delete(f"{channel}/x")
            assert (r.status_code, r.text) == (400, "Invalid idx\n")
            r = await client.delete(f"{server.url}/ai/trickle/nosuch/0")
            assert (r.status_code, r.text) == (404, "Stream not found\n")

    asyncio.run(main())


def test_delete_a_channel_ends_its_readers_and_publishers(server, channel):
    async def main() -> None:
        async with lc.client() as client:
            reader = asyncio.ensure_future(client.get(f"{channel}/0"))
            await asyncio.sleep(0.2)
            assert (await client.delete(channel)).status_code == 200
            got = await asyncio.wait_for(reader, 5)
            assert got.status_code == 200 and got.headers["Lp-Trickle-Closed"] == "terminated"
            r = await client.delete(channel)
            assert (r.status_code, r.text) == (400, "Invalid stream\n")
            assert (await client.get(f"{channel}/0")).status_code == 404
            assert (await client.post(f"{channel}/0", content=b"{}")).status_code == 404

    asyncio.run(main())


def test_a_subscriber_that_disconnects_mid_body_is_survived(channel):
    async def main() -> None:
        async with lc.client() as client:
            pub = lc.TricklePublisher(client, channel, "application/json")
            upload = await pub.segment()
            await upload.write(b"[1,")
            async with client.stream("GET", f"{channel}/0") as r:
                assert await anext(r.aiter_bytes()) == b"[1,"
            await upload.write(b"2]")  # the reader is gone; the upload goes on
            await upload.close()
            assert (await client.get(f"{channel}/0")).content == b"[1,2]"

    asyncio.run(main())


def test_the_changefeed_channel_over_http(tmp_path):
    """-trickleChangefeed: `_changes` announces a job's four channels, then their removal."""
    srv = ServerProcess("-dataDir", str(tmp_path), "-trickleChangefeed")
    try:
        feed = f"{srv.url}/ai/trickle/_changes"
        with httpx.Client(verify=False, timeout=30) as c:
            r = c.get(f"{feed}/0")
            assert (r.status_code, r.text) == (200, '{"added":["_changes"]}')
            assert r.headers["content-type"] == "application/json"
            job = lc.start(srv, {"model_id": "noop"}).json()
            mid = job["manifest_id"]
            names = [mid, f"{mid}-out", f"{mid}-control", f"{mid}-events"]
            added = [c.get(f"{feed}/{i}").json() for i in range(1, 5)]
            assert added == [{"added": [n]} for n in names]
            assert c.delete(job["publish_url"]).status_code == 200  # the gateway is done
            removed = [c.get(f"{feed}/{i}").json() for i in range(5, 9)]  # long-polls
            assert sorted(n for r in removed for n in r["removed"]) == sorted(names)
            assert removed[0] == {"removed": [mid]}  # the DELETE; the job closes the rest
    finally:
        srv.stop()
