"""SIGKILL `python -m lpengine.serve` while a gateway streams winning tickets to POST /payment:
after a restart on the same data dir, every ticket of every payment answered 2xx is in the
`ticketQueue` table, its credit is in the balance, and the node still honours its old params
and refuses replays (issue 4: "never lose a winning ticket")."""

from __future__ import annotations

import signal
import sqlite3
import threading
from fractions import Fraction
from pathlib import Path

import httpx
import pytest

from lpengine.net import lp_rpc_pb2 as pb
from tests.helpers import ServerProcess
from tests.pm.conftest import GATEWAY_KEY
from tests.serve.paying_gateway import WireGateway, header, payment_to_pb

pytestmark = pytest.mark.net

EV = 10**16  # faceValue capped at the EV: winProb = 2^256 - 1, every ticket wins
FLAGS = ("-network", "simulated", "-pricePerUnit", "1000", "-ticketEV", str(EV),
         "-maxFaceValue", str(EV))  # fmt: skip
STREAMS, PAYMENTS_EACH, TICKETS_EACH, KILL_AFTER_ACKS = 4, 100, 2, 40
MANIFEST = b"durable"


def start(data_dir: Path) -> ServerProcess:
    return ServerProcess("-dataDir", str(data_dir), *FLAGS)


def test_sigkill_loses_no_acknowledged_winning_ticket(tmp_path):
    server = start(tmp_path)
    gateway = WireGateway(GATEWAY_KEY)
    fund = {"sender": gateway.checksum, "deposit": "1000eth", "reserve": "1000eth"}
    assert httpx.post(f"{server.cli_url}/simulated/fund", data=fund).status_code == 200
    with server.grpc_channel() as channel:
        infos = [gateway.discover(channel) for _ in range(STREAMS)]  # own params per stream
    assert all(int.from_bytes(i.ticket_params.win_prob, "big") == 2**256 - 1 for i in infos)
    streams = [
        [
            gateway.pay(info, range(n * TICKETS_EACH, (n + 1) * TICKETS_EACH))
            for n in range(PAYMENTS_EACH)
        ]
        for info in infos
    ]
    segments = [header(gateway.segment(info, MANIFEST)) for info in infos]
    acked: list[tuple[int, int]] = []  # (stream, payment) answered 2xx
    failures: list[str] = []
    lock, enough = threading.Lock(), threading.Event()

    def stream(s: int) -> None:
        with httpx.Client(verify=False, timeout=30) as client:
            for n, payment in enumerate(streams[s]):
                headers = {
                    "Livepeer-Payment": header(payment_to_pb(payment)),
                    "Livepeer-Segment": segments[s],
                }
                try:
                    r = client.post(f"{server.url}/payment", headers=headers)
                except httpx.TransportError:  # the server died under us: expected
                    return
                with lock:
                    if r.status_code != 200:
                        failures.append(f"{s}/{n}: {r.status_code} {r.text}")
                        return
                    acked.append((s, n))
                    if len(acked) >= KILL_AFTER_ACKS:
                        enough.set()

    threads = [threading.Thread(target=stream, args=(s,)) for s in range(STREAMS)]
    for t in threads:
        t.start()
    assert enough.wait(timeout=60), failures or server.log
    assert server.kill() == -signal.SIGKILL  # payments are still in flight
    for t in threads:
        t.join(timeout=60)
    assert not failures, failures
    assert KILL_AFTER_ACKS <= len(acked) < STREAMS * PAYMENTS_EACH, "kill mid-stream"

    restarted = start(tmp_path)
    try:
        db = sqlite3.connect(f"file:{tmp_path / 'lpdb.sqlite3'}?mode=ro", uri=True)
        with db:
            stored = {bytes(r[0]) for r in db.execute("SELECT sig FROM ticketQueue")}
        db.close()
        for s, n in acked:
            for ticket in streams[s][n].ticket_sender_params:
                assert ticket.sig in stored, f"payment {s}/{n} was answered 200, then lost"
        # Every acknowledged ticket's credit survived too (credits commit with the winners).
        doc = httpx.get(
            f"{restarted.cli_url}/balance",
            params={"sender": gateway.checksum, "key": MANIFEST.decode()},
        ).json()
        assert Fraction(doc["balance_wei"]) >= len(acked) * TICKETS_EACH * EV
        # Params issued before the crash still pay (persisted secret) ...
        fresh = gateway.pay(infos[0], [10_000])
        ok = httpx.post(
            f"{restarted.url}/payment",
            headers={
                "Livepeer-Payment": header(payment_to_pb(fresh)),
                "Livepeer-Segment": segments[0],
            },
            verify=False,
        )
        assert ok.status_code == 200, ok.text
        pb.PaymentResult.FromString(ok.content)
        # ... and an acknowledged payment cannot be spent twice (persisted nonces).
        s, n = acked[0]
        replay = httpx.post(
            f"{restarted.url}/payment",
            headers={
                "Livepeer-Payment": header(payment_to_pb(streams[s][n])),
                "Livepeer-Segment": segments[s],
            },
            verify=False,
        )
        assert replay.status_code == 400 and "already seen" in replay.text, replay.text
    finally:
        restarted.stop()
