"""BYOC streams with payments on (`-network simulated`, protocol.md §4.8, §7.6): the start is
paid like a job (402 without a minute of balance), the stream is debited 23 s of its price every
round (`-byocStreamDebitInterval`, shortened here), one round below zero is tolerated and the
next stops it cleanly; /ai/stream/payment tops the balance up."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils import keccak

from lpengine.pm import PriceInfo
from lpengine.pm.ticket import expected_value
from tests.byoc.echo_worker import WorkerProcess
from tests.helpers import ServerProcess, free_port
from tests.pm.conftest import GATEWAY_KEY
from tests.serve.paying_gateway import (
    WireGateway,
    funded_gateway,
    header,
    params_from_pb,
    payment_to_pb,
)
from tests.serve.test_byoc_paid import eth_address_header, params_of
from tests.serve.test_byoc_stream import read_events

pytestmark = pytest.mark.net

SECRET = "paid-stream-secret"
STREAM_WORKER = Path(__file__).parents[1] / "byoc" / "stream_worker.py"
PRICE_WEI_PER_S = (
    100_000_000  # a ticket (EV 8e9 wei) pays for 80 s: the start's minute, then 3 rounds
)
NONCES = itertools.count()


@dataclass(frozen=True)
class Node:
    server: ServerProcess
    worker: WorkerProcess
    client: httpx.Client
    gateway: WireGateway


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    worker = WorkerProcess(free_port(), script=STREAM_WORKER)
    srv = ServerProcess(
        "-dataDir", str(tmp_path_factory.mktemp("data")), "-network", "simulated",
        "-pricePerUnit", "1000", "-orchSecret", SECRET, "-byocStreamDebitInterval", "0.3s",
    )  # fmt: skip
    client = httpx.Client(base_url=srv.url, verify=False, timeout=30)
    for name in ("paidstream", "topup"):
        doc = {"name": name, "url": worker.url, "capacity": 2, "price_per_unit": PRICE_WEI_PER_S}
        r = client.post(
            "/capability/register", content=json.dumps(doc), headers={"Authorization": SECRET}
        )
        assert r.text == "ok", r.text
    yield Node(srv, worker, client, funded_gateway(srv.cli_url, GATEWAY_KEY))
    client.close()
    srv.stop()
    worker.stop()
    assert "Traceback" not in srv.log, srv.log


def livepeer(gw: WireGateway, stream_id: str, capability: str) -> str:
    request = json.dumps({"stream_id": stream_id})
    parameters = json.dumps({"enable_video_ingress": True, "enable_video_egress": True})
    sig = gw.sign_digest(keccak(text=request + parameters))
    doc = {
        "id": stream_id, "request": request, "parameters": parameters, "capability": capability,
        "sender": gw.checksum, "sig": sig.hex(), "timeout_seconds": 30,
    }  # fmt: skip
    return base64.b64encode(json.dumps(doc).encode()).decode()


def pay(node: Node, capability: str) -> tuple[str, Fraction, Fraction]:
    """One ticket at the quoted price: the header, the wei it credits (its EV) and the price."""
    headers = {
        "Livepeer-Eth-Address": eth_address_header(node.gateway),
        "Livepeer-Capability": capability,
    }
    doc = node.client.get("/process/token", headers=headers).json()
    quoted = PriceInfo(doc["price"]["pricePerUnit"], doc["price"]["pixelsPerUnit"])
    params = params_from_pb(params_of(doc["ticket_params"]))
    payment = node.gateway.tickets.pay(params, [next(NONCES)], quoted)
    ev = expected_value(params.face_value, params.win_prob)
    return (
        header(payment_to_pb(payment)),
        ev,
        Fraction(quoted.price_per_unit, quoted.pixels_per_unit),
    )


def call(
    node: Node, verb: str, stream_id: str, capability: str = "paidstream", payment: str = "",
    gw: WireGateway | None = None,
) -> httpx.Response:  # fmt: skip
    headers = {"Livepeer": livepeer(gw or node.gateway, stream_id, capability)}
    if payment:
        headers["Livepeer-Payment"] = payment
    return node.client.post(f"/ai/stream/{verb}", content=b"{}", headers=headers)


def balance(node: Node, key: str) -> Fraction:
    r = httpx.get(
        f"{node.server.cli_url}/balance", params={"sender": node.gateway.checksum, "key": key}
    )
    value = r.json()["balance_wei"]
    return Fraction(value) if value is not None else Fraction(0)


def test_a_start_without_a_minute_of_balance_is_402(node):
    other = funded_gateway(node.server.cli_url, bytes(31) + b"\x09")
    r = call(node, "start", "broke", gw=other)
    assert (r.status_code, r.text) == (402, "Insufficient balance for request\n")
    assert node.client.get("/ai/trickle/broke-control/next").status_code == 404


def test_the_stream_is_debited_every_round_and_stopped_a_round_after_going_negative(node):
    payment, ev, price = pay(node, "paidstream")
    r = call(node, "start", "runs-out", payment=payment)
    assert r.status_code == 200, r.text
    assert Fraction(r.headers["livepeer-balance"]) == round(ev - price)  # the start: 1 s
    events_url = r.headers["x-events-url"]

    async def run() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(verify=False, timeout=30) as http:
            return await asyncio.wait_for(read_events(http, events_url), 20)

    events = asyncio.run(run())
    assert [e["type"] for e in events] == [
        "worker_started", "insufficient_balance", "stream_stopped",
    ], events  # fmt: skip
    warned, stopped = Fraction(events[1]["balance_wei"]), Fraction(events[2]["balance_wei"])
    # 1 s for the start, then rounds of 23 s: 3 paid, a 4th below zero tolerated, the 5th stops.
    assert stopped == ev - (1 + 5 * 23) * price == balance(node, "paidstream")
    assert warned == stopped + 23 * price and warned < 0
    assert events[2]["debited_units"] == 5 * 23 and events[2]["reason"] == "insufficient balance"
    assert node.client.get("/ai/trickle/runs-out-out/next").status_code == 404
    assert json.loads(httpx.get(f"{node.worker.url}/streams").text)["runs-out"]["stop_calls"] == 1


def test_payment_tops_up_the_balance(node):
    before = balance(node, "topup")
    payment, ev, _ = pay(node, "topup")
    r = call(node, "payment", "any", capability="topup", payment=payment)
    assert r.status_code == 200, r.text
    assert balance(node, "topup") == before + ev
    assert Fraction(r.headers["livepeer-balance"]) == round(before + ev)
    r = call(node, "payment", "any", capability="topup", payment="not base64!")
    assert r.status_code == 400 and r.text.startswith("Could not parse payment err="), r.text
    r = call(node, "payment", "any", capability="topup", payment=payment)  # replayed nonce
    assert r.status_code == 400 and r.text.startswith("Could not process payment err="), r.text
    assert balance(node, "topup") == before + ev


def test_another_sender_cannot_stop_a_stream(node):
    payment, _, _ = pay(node, "topup")
    assert call(node, "start", "mine", capability="topup", payment=payment).status_code == 200
    other = funded_gateway(node.server.cli_url, bytes(31) + b"\x0b")
    r = call(node, "stop", "mine", capability="topup", gw=other)
    assert (r.status_code, r.text) == (403, "stream mine was started by another sender\n")
    r = call(node, "stop", "mine", capability="topup")
    assert r.status_code == 200, r.text
