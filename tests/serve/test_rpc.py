"""The net.Orchestrator service through grpcio clients, over TLS and the plaintext listener."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from lpengine import hardware
from lpengine.capabilities import Capability, decode_bitstring
from lpengine.net import lp_rpc_pb2 as pb
from tests.helpers import ServerProcess, free_port, unary

pytestmark = pytest.mark.net


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[ServerProcess]:
    plain = free_port()
    srv = ServerProcess("-dataDir", str(data_dir), "-httpAddr", f"http://127.0.0.1:{plain}")
    srv.plain_port = plain  # type: ignore[attr-defined]
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with server.grpc_channel() as ch:
        yield ch


def get_orchestrator(channel: grpc.Channel, request: pb.OrchestratorRequest) -> pb.OrchestratorInfo:
    return unary(channel, "GetOrchestrator", pb.OrchestratorInfo)(request, timeout=5)


def test_plain_get_orchestrator(server, channel):
    info = get_orchestrator(channel, pb.OrchestratorRequest())
    assert info.transcoder == server.url
    assert len(info.auth_token.token) == 32 and len(info.auth_token.session_id) == 8
    assert abs(info.auth_token.expiration - (time.time() + 1800)) < 60
    caps = info.capabilities
    assert caps.version and list(caps.mandatories) == []
    bits = decode_bitstring(caps.bitstring)
    assert Capability.H264 in bits and Capability.AUTH_TOKEN in bits
    # Codec capabilities count 1 each (as go); live-video-to-video (35) its noop streams.
    assert dict(caps.capacities) == {c: 1 for c in bits} | {Capability.LIVE_VIDEO_TO_VIDEO: 4}
    # Nothing priced and off-chain: go's shape, no price and no ticket params.
    assert not info.HasField("price_info") and not info.HasField("ticket_params")
    assert info.address == bytes(20) and list(info.capabilities_prices) == []
    gpus = hardware.detect().gpus
    assert len(info.hardware) == (1 if gpus else 0)
    if gpus:
        assert info.hardware[0].gpu_info["0"].name == gpus[0].name


def test_every_quote_has_a_fresh_token(channel):
    ids = {
        get_orchestrator(channel, pb.OrchestratorRequest()).auth_token.session_id for _ in range(5)
    }
    assert len(ids) == 5


def test_token_is_the_hmac_of_its_fields_under_the_persisted_secret(channel, data_dir):
    token = get_orchestrator(channel, pb.OrchestratorRequest()).auth_token
    secret = (data_dir / "auth_token_secret").read_bytes()
    exp = token.expiration.to_bytes((token.expiration.bit_length() + 7) // 8, "big")
    msg = token.session_id.encode() + exp
    assert token.token == hmac.new(secret, msg, hashlib.sha256).digest()


def test_live_capacity_check_unless_ignored(channel):
    request = pb.OrchestratorRequest()
    request.capabilities.capacities[35] = 1
    request.capabilities.constraints.PerCapability[35].models["streamdiffusion"].SetInParent()
    with pytest.raises(grpc.RpcError) as err:  # no such live pipeline here
        get_orchestrator(channel, request)
    assert err.value.code() == grpc.StatusCode.UNKNOWN  # go returns plain errors
    assert err.value.details() == "Invalid orchestrator request: OrchestratorCapped"
    request.ignoreCapacityCheck = True  # what the SDK always sends
    info = get_orchestrator(channel, request)
    assert not info.hardware and not info.capabilities_prices


def test_ping_off_chain(channel):
    reply = unary(channel, "Ping", pb.PingPong)(pb.PingPong(value=b"\x01" * 32), timeout=5)
    assert reply.value == b""  # go signs with an empty signature off-chain (protocol.md §6)


def test_end_transcoding_session(channel):
    end = unary(channel, "EndTranscodingSession", pb.EndTranscodingSessionResponse)
    token = get_orchestrator(channel, pb.OrchestratorRequest()).auth_token
    assert end(pb.EndTranscodingSessionRequest(auth_token=token), timeout=5) == (
        pb.EndTranscodingSessionResponse()
    )
    forged = pb.AuthToken(token=bytes(32), session_id=token.session_id, expiration=token.expiration)
    for request in (
        pb.EndTranscodingSessionRequest(auth_token=forged),
        pb.EndTranscodingSessionRequest(),
    ):
        with pytest.raises(grpc.RpcError) as err:
            end(request, timeout=5)
        assert err.value.code() == grpc.StatusCode.UNKNOWN
        assert err.value.details() == "Invalid auth token"


def test_plaintext_listener_serves_h2c_grpc_and_http(server):
    plain = f"127.0.0.1:{server.plain_port}"
    with grpc.insecure_channel(plain) as ch:
        info = get_orchestrator(ch, pb.OrchestratorRequest())
    assert info.transcoder == server.url  # the advertised URI stays the TLS one
    assert httpx.get(f"http://{plain}/healthz").text == "ok"
