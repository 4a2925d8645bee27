"""BYOC with payments on (`-network simulated`): a gateway that signs its job requests and pays
tickets at the quoted per-second price is charged ceil(seconds) of compute per job, worker
failures included, and SSE streams are debited every 5 s (protocol.md §4.8, §7.6)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import httpx
import pytest
from eth_utils import keccak

from lpengine.net import lp_rpc_pb2 as pb
from lpengine.pm import PriceInfo
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

pytestmark = pytest.mark.net

SECRET = "paid-secret"
PRICE_WEI_PER_S = 1_000_000  # registered: 1e6 wei per second of compute
MAX = 2**256 - 1


@dataclass(frozen=True)
class Node:
    server: ServerProcess
    client: httpx.Client
    gateway: WireGateway


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    worker = WorkerProcess(free_port())
    srv = ServerProcess(
        "-dataDir", str(tmp_path_factory.mktemp("data")), "-network", "simulated",
        "-pricePerUnit", "1000", "-orchSecret", SECRET,
    )  # fmt: skip
    client = httpx.Client(base_url=srv.url, verify=False, timeout=60)
    doc = {"name": "paid", "url": worker.url, "capacity": 4, "price_per_unit": PRICE_WEI_PER_S}
    r = client.post(
        "/capability/register", content=json.dumps(doc), headers={"Authorization": SECRET}
    )
    assert r.text == "ok", r.text
    yield Node(srv, client, funded_gateway(srv.cli_url, GATEWAY_KEY))
    client.close()
    srv.stop()
    worker.stop()
    assert "Traceback" not in srv.log, srv.log


def eth_address_header(gw: WireGateway) -> str:
    sig = gw.sign_digest(keccak(text=gw.checksum))
    return base64.b64encode(
        json.dumps({"addr": gw.checksum, "sig": "0x" + sig.hex()}).encode()
    ).decode()


def job_header(gw: WireGateway, capability: str = "paid", timeout_s: int = 30) -> str:
    request, parameters = json.dumps({"stream_id": "s"}), ""
    sig = gw.sign_digest(keccak(text=request + parameters))
    doc = {
        "id": "paid-job", "request": request, "parameters": parameters, "capability": capability,
        "sender": gw.checksum, "sig": sig.hex(), "timeout_seconds": timeout_s,
    }  # fmt: skip
    return base64.b64encode(json.dumps(doc).encode()).decode()


def token(node: Node) -> dict[str, Any]:
    headers = {
        "Livepeer-Eth-Address": eth_address_header(node.gateway),
        "Livepeer-Capability": "paid",
    }
    r = node.client.get("/process/token", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def params_of(doc: dict[str, Any]) -> pb.TicketParams:
    m = pb.TicketParams()
    for name in (
        "recipient",
        "face_value",
        "win_prob",
        "recipient_rand_hash",
        "seed",
        "expiration_block",
    ):
        setattr(m, name, base64.b64decode(doc.get(name, "")))
    e = doc["expiration_params"]
    m.expiration_params.creation_round = e.get("creation_round", 0)
    m.expiration_params.creation_round_block_hash = base64.b64decode(e["creation_round_block_hash"])
    return m


def balance(node: Node) -> Fraction:
    r = httpx.get(
        f"{node.server.cli_url}/balance", params={"sender": node.gateway.checksum, "key": "paid"}
    )
    assert r.status_code == 200, r.text
    value = r.json()["balance_wei"]
    return Fraction(value) if value is not None else Fraction(0)


def post(node: Node, subpath: str = "paid", payment: str = "", **kw: Any) -> httpx.Response:
    headers = {"Livepeer": job_header(node.gateway, **kw), "Content-Type": "application/json"}
    if payment:
        headers["Livepeer-Payment"] = payment
    return node.client.post(f"/process/request/{subpath}", content=b'{"x": 1}', headers=headers)


@pytest.fixture(scope="module")
def price(node: Node) -> Fraction:
    """Pays one ticket (EV 8e9 wei: over 60 s of compute) at the quoted price; returns it."""
    doc = token(node)
    quoted = PriceInfo(doc["price"]["pricePerUnit"], doc["price"]["pixelsPerUnit"])
    params = params_from_pb(params_of(doc["ticket_params"]))
    payment = header(payment_to_pb(node.gateway.tickets.pay(params, [0], quoted)))
    r = post(node, payment=payment)
    assert r.status_code == 200, r.text
    return Fraction(quoted.price_per_unit, quoted.pixels_per_unit)


def test_token_quotes_the_per_second_price_with_ticket_params(node):
    doc = token(node)
    assert doc["sender_address"]["addr"] == node.gateway.checksum
    assert doc["service_addr"] == node.server.url
    assert doc["available_capacity"] == 4
    price = Fraction(doc["price"]["pricePerUnit"], doc["price"]["pixelsPerUnit"])
    assert PRICE_WEI_PER_S < price < PRICE_WEI_PER_S * Fraction(102, 100)  # go's ~1 % overhead
    params = doc["ticket_params"]
    assert base64.b64decode(params["recipient"]) and params["expiration_params"]


def test_token_refusals(node):
    c = node.client
    r = c.get("/process/token", headers={"Livepeer-Capability": "paid"})
    assert r.status_code == 400 and r.text.startswith("Must have eth address"), r.text
    forged = base64.b64encode(
        json.dumps({"addr": node.gateway.checksum, "sig": "00" * 65}).encode()
    )
    r = c.get(
        "/process/token",
        headers={"Livepeer-Eth-Address": forged.decode(), "Livepeer-Capability": "paid"},
    )
    assert (r.status_code, r.text) == (400, "Invalid eth address header \n")
    r = c.get("/process/token", headers={"Livepeer-Eth-Address": eth_address_header(node.gateway)})
    assert r.status_code == 400 and r.text.startswith("Job capabilities not provided"), r.text


def test_a_job_without_balance_is_refused_and_frees_its_slot(node):
    # A fresh gateway key has no balance for "paid" yet: only the signer differs.
    other = funded_gateway(node.server.cli_url, bytes(31) + b"\x07")
    headers = {"Livepeer": job_header(other), "Content-Type": "application/json"}
    r = node.client.post("/process/request/paid", content=b"{}", headers=headers)
    assert (r.status_code, r.text) == (400, "Insufficient balance for request\n")
    assert token(node)["available_capacity"] == 4


def test_a_forged_job_signature_is_refused(node):
    doc = json.loads(base64.b64decode(job_header(node.gateway)))
    doc["request"] = json.dumps({"stream_id": "other"})  # the signature no longer matches
    forged = base64.b64encode(json.dumps(doc).encode()).decode()
    r = node.client.post("/process/request/paid", content=b"{}", headers={"Livepeer": forged})
    assert (r.status_code, r.text) == (400, "Could not verify job creds\n")


def test_each_job_is_charged_ceil_seconds(node, price):
    before = balance(node)
    r = post(node)
    assert r.status_code == 200 and r.json()["body"] == '{"x": 1}'
    after = balance(node)
    assert before - after == price  # a few ms of compute: one second
    assert r.headers["livepeer-balance"] == str(round(after))
    r = post(node, subpath="sleep/1.2")
    assert r.status_code == 200
    assert after - balance(node) == 2 * price


def test_failed_jobs_are_charged_too(node, price):
    before = balance(node)
    r = post(node, subpath="status/500")
    assert (r.status_code, r.text) == (500, "worker says 500\n")
    mid = balance(node)
    assert before - mid == price
    r = post(node, subpath="sleep/5", timeout_s=1)
    assert r.status_code == 500 and "context deadline exceeded" in r.text
    assert mid - balance(node) == 2 * price  # the deadline (1 s) and a little: ceil -> 2


def test_sse_is_debited_every_5_s(node, price):
    before = balance(node)
    headers = {"Livepeer": job_header(node.gateway), "Content-Type": "application/json"}
    start = time.monotonic()
    with node.client.stream("POST", "/process/request/sse/11/0.5", headers=headers) as r:
        assert r.status_code == 200
        assert r.headers["livepeer-payment-balance"] == str(round(before))
        lines = [line for line in r.iter_lines() if line]
    took = time.monotonic() - start
    assert lines[-1] == "data: [DONE]" and lines[-2].startswith('data: {"balance": ')
    assert len(lines) == 13
    charged = (before - balance(node)) / price
    assert charged.denominator == 1 and int(charged) in (int(took) + 1, int(took) + 2), took
    shown = Fraction(json.loads(lines[-2][len("data: ") :])["balance"]).limit_denominator(1000)
    assert abs(shown - (before - 5 * price)) < 1  # after the 5 s debit, before the final one
