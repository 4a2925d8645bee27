"""A restart keeps the auth token secret, the TLS certificate and the payments state (go voids
all of them, protocol.md §13.1)."""

from __future__ import annotations

import base64
import subprocess
import sys
from fractions import Fraction

import httpx
import pytest

from lpengine.net import lp_rpc_pb2 as pb
from tests.helpers import ServerProcess, unary
from tests.pm.conftest import GATEWAY_KEY
from tests.serve.paying_gateway import WireGateway, header, payment_to_pb

pytestmark = pytest.mark.net


def test_tokens_and_certificate_survive_a_restart(tmp_path):
    first = ServerProcess("-dataDir", str(tmp_path))
    try:
        with first.grpc_channel() as channel:
            token = unary(channel, "GetOrchestrator", pb.OrchestratorInfo)(
                pb.OrchestratorRequest(), timeout=5
            ).auth_token
        pem = first.pem
    finally:
        assert first.stop() == 0
    assert "created a self-signed TLS certificate" in first.log

    second = ServerProcess("-dataDir", str(tmp_path))
    try:
        assert second.pem == pem and "reusing the TLS certificate" in second.log
        seg = base64.b64encode(pb.SegData(auth_token=token).SerializeToString()).decode()
        headers = {"Livepeer-Payment": "", "Livepeer-Segment": seg}
        r = httpx.post(f"{second.url}/payment", headers=headers, verify=False)
        assert r.status_code == 200, r.text  # a token from before the restart still pays
        with second.grpc_channel() as channel:
            end = unary(channel, "EndTranscodingSession", pb.EndTranscodingSessionResponse)
            end(pb.EndTranscodingSessionRequest(auth_token=token), timeout=5)
    finally:
        second.stop()


def test_a_taken_port_fails_at_once(tmp_path):
    holder = ServerProcess("-dataDir", str(tmp_path / "a"))
    try:
        args = ["-dataDir", str(tmp_path / "b"), "-serviceAddr", f"127.0.0.1:{holder.port}"]
        out = subprocess.run(
            [sys.executable, "-m", "lpengine.serve", *args, "-cliAddr", "127.0.0.1:0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 1
        assert f"cannot listen on 127.0.0.1:{holder.port}" in out.stderr
    finally:
        holder.stop()


def test_balances_params_and_nonces_survive_a_restart(tmp_path):
    """go keeps balances in memory and draws its recipientRand secret per process; here a
    graceful restart keeps the balance, its pinned price, the params gateways hold and the
    nonces they spent."""
    flags = ("-dataDir", str(tmp_path), "-network", "simulated", "-pricePerUnit", "1000")
    gateway = WireGateway(GATEWAY_KEY)
    key = {"sender": gateway.checksum, "key": "m1"}
    first = ServerProcess(*flags)
    try:
        fund = {"sender": gateway.checksum, "deposit": "1eth", "reserve": "1eth"}
        assert httpx.post(f"{first.cli_url}/simulated/fund", data=fund).status_code == 200
        with first.grpc_channel() as channel:
            info = gateway.discover(channel)
        seg = header(gateway.segment(info, b"m1"))
        paid = header(payment_to_pb(gateway.pay(info, [0, 1])))
        r = httpx.post(
            f"{first.url}/payment",
            headers={"Livepeer-Payment": paid, "Livepeer-Segment": seg},
            verify=False,
        )
        assert r.status_code == 200, r.text
        before = httpx.get(f"{first.cli_url}/balance", params=key).json()
        assert before["balance_wei"] is not None
    finally:
        assert first.stop() == 0

    second = ServerProcess(*flags)
    try:
        after = httpx.get(f"{second.cli_url}/balance", params=key).json()
        assert after == before  # the same exact amount and pinned price
        node = httpx.get(f"{second.cli_url}/status").json()["payments"]["node_address"]
        with second.grpc_channel() as channel:
            assert "0x" + gateway.discover(channel).address.hex() == node.lower()  # same key
        replay = httpx.post(
            f"{second.url}/payment",
            headers={"Livepeer-Payment": paid, "Livepeer-Segment": seg},
            verify=False,
        )
        assert replay.status_code == 400 and "already seen" in replay.text
        more = header(payment_to_pb(gateway.pay(info, [2])))  # params from before the restart
        r = httpx.post(
            f"{second.url}/payment",
            headers={"Livepeer-Payment": more, "Livepeer-Segment": seg},
            verify=False,
        )
        assert r.status_code == 200, r.text
        total = Fraction(httpx.get(f"{second.cli_url}/balance", params=key).json()["balance_wei"])
        assert total == Fraction(before["balance_wei"]) * Fraction(3, 2)
    finally:
        second.stop()
