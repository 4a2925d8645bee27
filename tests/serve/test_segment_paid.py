"""POST /segment with payments on (`-network simulated`): a paying gateway's segment is credited
to `auth_token.session_id`, debited its encoded pixels at the pinned price, refused once the
balance is under one EV with nothing paid, and its result is signed by the node
(protocol.md §4.2, §6, §7.6)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import httpx
import pytest
from eth_utils import keccak

from lpengine.net import lp_rpc_pb2 as pb
from lpengine.pm.signature import recover
from tests.helpers import ServerProcess
from tests.media.conftest import make_segment
from tests.serve.paying_gateway import (
    WireGateway,
    balance,
    ev_and_price,
    header,
    payment_to_pb,
)

pytestmark = pytest.mark.net

MANIFEST = b"paid-stream"
LADDER = [
    pb.VideoProfile(name="P144p30fps16x9", width=256, height=144, bitrate=400_000),
    pb.VideoProfile(name="low", width=160, height=96, bitrate=200_000, fps=15, format=1),
]


@dataclass(frozen=True)
class Paid:
    """The first segment of a session, paid with one ticket, and what came back."""

    info: pb.OrchestratorInfo
    ev: Fraction
    price: Fraction
    result: pb.TranscodeResult


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(
        "-dataDir", str(tmp_path_factory.mktemp("data")), "-network", "simulated",
        "-pricePerUnit", "1000", "-pixelsPerUnit", "3",
    )  # fmt: skip
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log, srv.log


@pytest.fixture(scope="module")
def clip() -> bytes:
    return make_segment()


def post(
    server: ServerProcess, gateway: WireGateway, info: pb.OrchestratorInfo, payment: pb.Payment,
    clip: bytes, seq: int,
) -> httpx.Response:  # fmt: skip
    seg = gateway.segment(info, MANIFEST, seq, hash=keccak(clip), fullProfiles3=LADDER)
    headers = {
        "Livepeer-Payment": header(payment),
        "Livepeer-Segment": header(seg),
        "Content-Type": "video/MP2T",
    }
    return httpx.post(
        f"{server.url}/segment", headers=headers, content=clip, verify=False, timeout=60
    )


@pytest.fixture(scope="module")
def paid(
    server: ServerProcess, gateway: WireGateway, info: pb.OrchestratorInfo, clip: bytes
) -> Paid:
    r = post(server, gateway, info, payment_to_pb(gateway.pay(info, [0])), clip, seq=1)
    assert r.status_code == 200, r.text
    result = pb.TranscodeResult.FromString(r.content)
    assert result.WhichOneof("result") == "data", result.error
    ev, price = ev_and_price(info)
    return Paid(info, ev, price, result)


def test_the_session_is_debited_its_encoded_pixels(server, gateway, paid):
    segments = paid.result.data.segments
    assert len(segments) == len(LADDER) and all(s.pixels > 0 for s in segments)
    pixels = sum(s.pixels for s in segments)
    left = balance(server, gateway, paid.info.auth_token.session_id)
    assert left == paid.ev - pixels * paid.price
    assert balance(server, gateway, MANIFEST.decode()) is None  # not the /payment key


def test_the_result_is_signed_by_the_node(paid):
    renditions = []
    for s in paid.result.data.segments:
        got = httpx.get(s.url, verify=False)
        assert got.status_code == 200
        renditions.append(got.content)
    digest = keccak(b"".join(keccak(r) for r in renditions))
    assert recover(digest, paid.result.data.sig) == paid.info.address
    assert len(paid.info.address) == 20


def test_an_unpaid_segment_under_one_ev_is_refused(server, gateway, clip, paid):
    key = paid.info.auth_token.session_id
    before = balance(server, gateway, key)
    assert before is not None and before < paid.ev
    unpaid = payment_to_pb(gateway.pay(paid.info, []))  # sender and price, no tickets
    r = post(server, gateway, paid.info, unpaid, clip, seq=2)
    assert (r.status_code, r.text) == (400, "Insufficient balance\n")
    assert balance(server, gateway, key) == before
