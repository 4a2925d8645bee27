"""Live video-to-video with payments on (`-network simulated`, protocol.md §4.6, §7.6): the start
takes the initial payment into the stream's own balance (its manifest id) and refuses one that
is short, the stream is debited 1280x720x30 units a second every 5 s while input arrives,
/payment tops its balance up, and a stream whose balance runs out is stopped cleanly."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import httpx
import pytest

from lpengine.live.payments import UNITS_PER_SECOND
from lpengine.live.trickle_client import TrickleError, TricklePublisher
from lpengine.net import lp_rpc_pb2 as pb
from tests.helpers import ServerProcess
from tests.live import gateway as lc
from tests.live.clips import ts_segments
from tests.serve.paying_gateway import WireGateway, ev_and_price, paid_headers

pytestmark = [pytest.mark.net, pytest.mark.slow]

NONCES = itertools.count()
PRICE = 40  # wei per unit: one ticket (EV 8e9 wei) pays for about 7 s of a stream


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(
        "-dataDir", str(tmp_path_factory.mktemp("data")), "-network", "simulated",
        "-pricePerUnit", str(PRICE),
    )  # fmt: skip
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log, srv.log


def paid(gw: WireGateway, info: pb.OrchestratorInfo, tickets: int, mid: bytes) -> dict[str, str]:
    return paid_headers(gw, info, [next(NONCES) for _ in range(tickets)], mid)


def balance(server: ServerProcess, gw: WireGateway, key: str) -> Fraction:
    doc = httpx.get(f"{server.cli_url}/balance", params={"sender": gw.checksum, "key": key})
    assert doc.status_code == 200, doc.text
    return Fraction(doc.json()["balance_wei"])


async def publish_until_closed(http: httpx.AsyncClient, url: str, segments: Any) -> None:
    """Publishes in real time until the clip ends or the channel is gone (404)."""
    try:
        await lc.publish(http, url, segments)
    except TrickleError as err:
        assert err.status == 404, err


def test_a_start_without_a_ticket_is_refused_and_frees_its_slot(server, gateway, info):
    r = lc.start(server, {"model_id": "noop"}, paid(gateway, info, 0, b""))
    assert r.status_code == 400 and "Insufficient balance" in r.text, (r.status_code, r.text)
    with server.grpc_channel() as channel:
        again = gateway.discover(channel)
    models = again.capabilities.constraints.PerCapability[35].models
    assert (models["noop"].capacity, models["noop"].capacityInUse) == (4, 0)


def test_streams_are_debited_topped_up_and_stopped_when_their_balance_runs_out(
    server, gateway, info
):
    ev, price = ev_and_price(info)
    assert 5 * UNITS_PER_SECOND * price < ev < 10 * UNITS_PER_SECOND * price
    jobs = []
    for _ in range(2):
        r = lc.start(server, {"model_id": "noop"}, paid(gateway, info, 1, b""))
        assert r.status_code == 200, r.text
        jobs.append(r.json())
    short, topped = jobs
    assert balance(server, gateway, short["manifest_id"]) == ev  # the initial payment
    top_up = paid(gateway, info, 2, topped["manifest_id"].encode())
    r = httpx.post(f"{server.url}/payment", headers=top_up, verify=False, timeout=15)
    assert r.status_code == 200, r.text
    assert balance(server, gateway, topped["manifest_id"]) == 3 * ev
    clip = ts_segments(14.0, gop_s=1.0)

    async def main() -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        async with lc.client() as http:
            ev_task = asyncio.ensure_future(lc.read_events(http, short["events_url"], events))
            feeds = [
                asyncio.ensure_future(publish_until_closed(http, j["publish_url"], clip))
                for j in jobs
            ]
            await asyncio.wait_for(ev_task, 30)  # the short stream's channels close...
            assert not feeds[1].done()  # ...while the topped-up one still runs
            left = balance(server, gateway, topped["manifest_id"])
            await TricklePublisher(http, topped["publish_url"]).close()
            await asyncio.wait_for(asyncio.gather(*feeds), 30)
        seconds = (3 * ev - left) / price / UNITS_PER_SECOND
        assert 4.5 <= seconds <= 13, float(seconds)  # one or two 5 s debits so far
        return events

    events = asyncio.run(main())
    errors = [e["event"]["message"] for e in events if e["event"]["type"] == "error"]
    assert any("insufficient balance" in m for m in errors), errors
    spent = (ev - balance(server, gateway, short["manifest_id"])) / price / UNITS_PER_SECOND
    assert 9.5 <= spent <= 13, float(spent)  # the second debit took it below zero
    for job in jobs:
        gone = httpx.get(f"{job['subscribe_url']}/next", verify=False, timeout=15)
        assert gone.status_code == 404
