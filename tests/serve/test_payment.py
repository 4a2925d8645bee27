"""POST /payment on the service port: the SDK's empty off-chain payment and every refusal."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lpengine.auth_token import AuthTokens
from lpengine.capabilities import encode_bitstring
from lpengine.net import lp_rpc_pb2 as pb
from tests.helpers import ServerProcess, unary

pytestmark = pytest.mark.net


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess("-dataDir", str(data_dir), "-maxSessions", "1")
    yield srv
    srv.stop()


@pytest.fixture
def token(server: ServerProcess) -> pb.AuthToken:
    with server.grpc_channel() as channel:
        info = unary(channel, "GetOrchestrator", pb.OrchestratorInfo)(
            pb.OrchestratorRequest(), timeout=5
        )
    return info.auth_token


def segment(token: pb.AuthToken | None, **fields: object) -> str:
    seg = pb.SegData(**fields)  # type: ignore[arg-type]
    if token is not None:
        seg.auth_token.CopyFrom(token)
    return base64.b64encode(seg.SerializeToString()).decode()


def pay(server: ServerProcess, payment: str, seg: str, **kwargs: object) -> httpx.Response:
    # The SDK's request: urllib, a form content type, an empty body, Connection: close.
    headers = {
        "Livepeer-Payment": payment,
        "Livepeer-Segment": seg,
        "Content-Type": "application/x-www-form-urlencoded",
        "Connection": "close",
    }
    return httpx.post(f"{server.url}/payment", headers=headers, verify=False, **kwargs)  # type: ignore[arg-type]


def test_empty_payment_is_accepted(server, token):
    r = pay(server, "", segment(token, manifestId=b"abcd1234"))
    assert r.status_code == 200, r.text
    info = pb.PaymentResult.FromString(r.content).info
    assert info.transcoder == server.url
    assert info.auth_token == token  # the original token, not a new one
    assert info.capabilities.version


def test_a_body_is_never_parsed(server, token):
    r = pay(server, "", segment(token), content=b"\xff\x00 not a form at all")
    assert r.status_code == 200


def test_payment_refusals(server, token, data_dir):
    tickets = pb.Payment(sender=b"\x01" * 20)
    tickets.ticket_params.face_value = b"\x01"
    tickets.ticket_sender_params.add(sender_nonce=1, sig=b"s" * 65)
    expired = AuthTokens((data_dir / "auth_token_secret").read_bytes()).issue(
        now=time.time() - 3600
    )
    expired_pb = pb.AuthToken(
        token=expired.token, session_id=expired.session_id, expiration=expired.expiration
    )
    forged = pb.AuthToken(token=bytes(32), session_id=token.session_id, expiration=token.expiration)
    s3 = pb.Capabilities(bitstring=encode_bitstring([5]))  # storage S3: not offered here
    cases = [
        ("%%%", segment(token), 402, "base64 decode error"),
        ("YWJj", segment(token), 402, "protobuf unmarshal error"),
        ("", "", 403, "missing auth token"),
        ("", "!!", 403, "ErrorSegEncoding"),
        ("", segment(forged), 403, "invalid auth token"),
        ("", segment(expired_pb), 403, "expired auth token"),
        ("", segment(token, duration=300_001), 403, "invalid duration"),
        ("", segment(token, capabilities=s3), 403, "incompatible capabilities"),
        (base64.b64encode(tickets.SerializeToString()).decode(), segment(token), 400, "off-chain"),
    ]
    for payment, seg, status, text in cases:
        r = pay(server, payment, seg)
        assert (r.status_code, text in r.text) == (status, True), (text, r.status_code, r.text)
        assert r.text.endswith("\n")


def test_early_refusal_over_http2_keeps_the_connection(server):
    # A 403 answered before a large body is in must not cost the connection (see drain.py).
    with httpx.Client(http2=True, verify=False) as client:
        r = client.post(
            f"{server.url}/payment",
            headers={"Livepeer-Payment": "", "Livepeer-Segment": ""},
            content=b"x" * (1 << 20),
        )
        assert (r.status_code, r.http_version) == (403, "HTTP/2")
        assert client.get(f"{server.url}/healthz").status_code == 200
    assert "connection dropped" not in server.log
