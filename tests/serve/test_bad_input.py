"""Bad input on the service port: each case gets the right gRPC status or HTTP 4xx, the
connection ends cleanly, and a valid request right after must succeed (server unaffected)."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import grpc
import httpx
import pytest

from lpengine.net import lp_rpc_pb2 as pb
from tests.helpers import ServerProcess, unary
from tests.serve.raw_h2 import H2Client, tls_socket

pytestmark = pytest.mark.net

GET_ORCHESTRATOR = "/net.Orchestrator/GetOrchestrator"
OK, UNIMPLEMENTED, INTERNAL, RESOURCE_EXHAUSTED = 0, 12, 13, 8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess("-dataDir", str(tmp_path_factory.mktemp("data")))
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log, srv.log


@pytest.fixture
def still_serving(server: ServerProcess) -> Iterator[None]:
    """After the test: the process lives and a real client still gets an answer."""
    yield
    assert server.proc.poll() is None
    with server.grpc_channel() as channel:
        info = unary(channel, "GetOrchestrator", pb.OrchestratorInfo)(
            pb.OrchestratorRequest(), timeout=5
        )
    assert info.transcoder == server.url


def frame(message: bytes, flag: int = 0, length: int | None = None) -> bytes:
    return struct.pack(">BI", flag, len(message) if length is None else length) + message


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1024) == b""
    except (ConnectionResetError, OSError):
        return True


@pytest.mark.usefixtures("still_serving")
def test_garbage_bytes_on_the_tls_port(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"\x00\xffGET / HTTP/1.1\r\n\r\n" + bytes(range(256)) * 4)
        assert _closed(sock)


@pytest.mark.usefixtures("still_serving")
def test_handshake_then_eof_like_the_sdk_tofu_probe(server):
    sock = tls_socket(server.port, ["h2"])
    assert sock.selected_alpn_protocol() == "h2"  # h2 selected when offered (§1.1)
    assert sock.getpeercert(binary_form=True)
    sock.close()


@pytest.mark.usefixtures("still_serving")
def test_tls_without_alpn_speaks_http_1_1(server):
    with tls_socket(server.port, alpn=None) as sock:
        assert sock.selected_alpn_protocol() is None
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"ok")


@pytest.mark.usefixtures("still_serving")
def test_http_1_1_garbage_after_tls_is_400(server):
    with tls_socket(server.port, ["http/1.1"]) as sock:
        sock.sendall(b"\x01\x02 not http at all\r\n\r\n")
        reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 400")
        assert _closed(sock)


@pytest.mark.usefixtures("still_serving")
@pytest.mark.parametrize(
    "body,code,words",
    [
        (b"", INTERNAL, "not a length-prefixed message"),
        (b"\x00\x00\x00", INTERNAL, "not a length-prefixed message"),
        (frame(b"\x0a\x02ab", length=100), INTERNAL, "truncated"),
        (frame(b"") + b"\x00", INTERNAL, "more than one"),
        (frame(b"\xff\xff\xff\xff"), INTERNAL, "unmarshalling"),
        (frame(b"\x0a\x10short"), INTERNAL, "unmarshalling"),
        (frame(b"", flag=1), INTERNAL, "compressed flag"),
        (frame(b"", flag=7), INTERNAL, "invalid compressed flag"),
        (frame(b"", length=64 * 1024 * 1024), RESOURCE_EXHAUSTED, "larger than max"),
    ],
    ids=[
        "empty",
        "short-prefix",
        "truncated",
        "two",
        "garbage",
        "bad-length",
        "gzip-flag",
        "bad-flag",
        "oversized-prefix",
    ],
)
def test_malformed_grpc_bodies(server, body, code, words):
    client = H2Client(server.port)
    try:
        reply = client.request(GET_ORCHESTRATOR, body)
        assert reply.status == 200 and reply.grpc_status == code, reply
        assert words in reply.grpc_message
        # The connection stays usable: the next stream on it gets a real answer.
        again = client.request(GET_ORCHESTRATOR, frame(b""))
        assert again.grpc_status == OK and pb.OrchestratorInfo.FromString(again.data[5:]).transcoder
    finally:
        client.close()


@pytest.mark.usefixtures("still_serving")
def test_truncated_frame_then_reset_stream(server):
    client = H2Client(server.port)
    try:
        stream = client.start(GET_ORCHESTRATOR)
        client.send(stream, frame(b"\x0a\x02ab", length=50), end=False)
        client.reset(stream)  # the client gives up mid-message: nothing to answer
        reply = client.request(GET_ORCHESTRATOR, frame(b""))
        assert reply.grpc_status == OK
    finally:
        client.close()


@pytest.mark.usefixtures("still_serving")
def test_oversized_message_is_resource_exhausted(server):
    big = pb.OrchestratorRequest(sig=b"x" * (5 * 1024 * 1024))
    with server.grpc_channel() as channel, pytest.raises(grpc.RpcError) as err:
        unary(channel, "GetOrchestrator", pb.OrchestratorInfo)(big, timeout=30)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.usefixtures("still_serving")
@pytest.mark.parametrize(
    "path,words",
    [
        ("/net.Orchestrator/Nope", "unknown method Nope for service net.Orchestrator"),
        ("/net.Transcoder/RegisterTranscoder", "unknown service net.Transcoder"),
        ("/nothing", "unknown service nothing"),
    ],
)
def test_unknown_methods_are_unimplemented(server, path, words):
    with server.grpc_channel() as channel:
        call = channel.unary_unary(path, request_serializer=bytes, response_deserializer=bytes)
        with pytest.raises(grpc.RpcError) as err:
            call(b"", timeout=5)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert words in (err.value.details() or "")


@pytest.mark.usefixtures("still_serving")
def test_get_on_a_grpc_path_is_405(server):
    client = H2Client(server.port)
    try:
        stream = client.start(GET_ORCHESTRATOR, method="GET")
        client.send(stream, b"")
        assert client.read(stream).status == 405
    finally:
        client.close()


@pytest.mark.usefixtures("still_serving")
@pytest.mark.parametrize("http2", [False, True])
def test_plain_http_to_a_grpc_path_and_unknown_paths(server, http2):
    with httpx.Client(verify=False, http2=http2) as client:
        # HTTP/1.1, or HTTP/2 without the gRPC content type: the HTTP router, which has no such
        # route (go answers 404 too).
        grpc_path = client.post(
            f"{server.url}{GET_ORCHESTRATOR}",
            content=frame(b""),
            headers={"content-type": "application/grpc" if not http2 else "application/json"},
        )
        assert grpc_path.status_code == 404
        assert client.get(f"{server.url}/no/such/path").status_code == 404
        assert client.get(f"{server.url}/payment").status_code == 405
        assert client.post(f"{server.url}/healthz").status_code == 405
        assert client.get(f"{server.url}/healthz").status_code == 200  # same connection
