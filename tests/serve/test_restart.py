"""A restart keeps the auth token secret and the TLS certificate (go voids both, §13.1)."""

from __future__ import annotations

import base64
import subprocess
import sys

import httpx
import pytest

from lpengine.net import lp_rpc_pb2 as pb
from tests.helpers import ServerProcess, unary

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
