"""Payments through a `-network simulated` server: discovery with ticket params, POST /payment,
and every way a payment can be wrong, each with go's status and text, nothing credited for it,
and the next good payment still taken (protocol.md §4.3, §5, §6, §7.4, §8)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction
from math import floor
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from lpengine.chain.simulated import GAS_PRICE_WEI
from lpengine.net import lp_rpc_pb2 as pb
from lpengine.pm.config import ARBITRUM_REDEEM_GAS
from tests.helpers import ServerProcess, unary
from tests.serve.paying_gateway import (
    WireGateway,
    balance,
    header,
    params_from_pb,
    payment_to_pb,
)

pytestmark = pytest.mark.net

MAX = 2**256 - 1
EV = 8_000_000_000  # go's default -ticketEV
PRICE = Fraction(1000, 3)  # -pricePerUnit 1000 -pixelsPerUnit 3
STRANGER_KEY = bytes.fromhex("11" * 32)
SIG_FAILED = "Invalid orchestrator request: orchestrator req sig check failed"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("data")
    srv = ServerProcess(
        "-dataDir", str(data), "-network", "simulated", "-pricePerUnit", "1000",
        "-pixelsPerUnit", "3", "-monitor",
    )  # fmt: skip
    srv.data_dir = data  # type: ignore[attr-defined]
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log, srv.log


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with server.grpc_channel() as ch:
        yield ch


def chain(server: ServerProcess) -> dict[str, Any]:
    return httpx.get(f"{server.cli_url}/simulated").json()  # type: ignore[no-any-return]


def post(server: ServerProcess, payment: str, segment: str) -> httpx.Response:
    headers = {"Livepeer-Payment": payment, "Livepeer-Segment": segment}
    return httpx.post(f"{server.url}/payment", headers=headers, verify=False)


def node_address(server: ServerProcess) -> bytes:
    status = httpx.get(f"{server.cli_url}/status").json()
    return bytes.fromhex(status["payments"]["node_address"][2:])


def test_quote_carries_ticket_params_for_the_quoted_price(server, gateway, channel):
    before = chain(server)
    info = gateway.discover(channel)
    after = chain(server)
    node = node_address(server)
    assert info.address == node and info.ticket_params.recipient == node
    # go's price: base x (1 + txCost / faceValue), truncated to 3 decimals of wei, reduced.
    face_value = ARBITRUM_REDEEM_GAS * GAS_PRICE_WEI * 100  # 0.12 ETH, under the 1 ETH reserve
    quoted = Fraction(floor(PRICE * (1 + Fraction(1, 100)) * 1000), 1000)
    assert Fraction(info.price_info.pricePerUnit, info.price_info.pixelsPerUnit) == quoted
    assert (info.price_info.pricePerUnit, info.price_info.pixelsPerUnit) == (
        quoted.numerator,
        quoted.denominator,
    )
    params = info.ticket_params
    assert int.from_bytes(params.face_value, "big") == face_value
    assert int.from_bytes(params.win_prob, "big") == EV * -(-MAX // face_value)
    assert (
        before["block"] + 40
        <= int.from_bytes(params.expiration_block, "big")
        <= (after["block"] + 40)
    )
    exp = params.expiration_params
    assert exp.creation_round in (before["round"], after["round"])
    assert "0x" + exp.creation_round_block_hash.hex() == after["round_block_hash"]
    assert len(params.seed) <= 32 and len(params.recipient_rand_hash) == 32
    assert len({gateway.discover(channel).ticket_params.seed for _ in range(3)}) == 3


def test_discovery_needs_the_gateways_signature(gateway, channel):
    stranger = WireGateway(STRANGER_KEY)
    forged = gateway.request()
    forged.sig = stranger.request().sig  # someone else's signature over their own address
    unsigned = pb.OrchestratorRequest(address=gateway.address)
    call = unary(channel, "GetOrchestrator", pb.OrchestratorInfo)
    for request in (forged, unsigned, pb.OrchestratorRequest()):
        with pytest.raises(grpc.RpcError) as err:
            call(request, timeout=5)
        assert err.value.code() == grpc.StatusCode.UNKNOWN  # go's plain error
        assert err.value.details() == SIG_FAILED


def test_an_unfunded_sender_is_refused_params(channel):
    with pytest.raises(grpc.RpcError) as err:
        WireGateway(STRANGER_KEY).discover(channel)
    assert err.value.details() == "insufficient sender reserve"


def test_ping_is_signed_by_the_node(server, channel):
    value = bytes(range(32))
    reply = unary(channel, "Ping", pb.PingPong)(pb.PingPong(value=value), timeout=5)
    signer = Account.recover_message(encode_defunct(primitive=keccak(value)), signature=reply.value)
    assert bytes.fromhex(signer[2:]) == node_address(server)


def test_a_payment_is_credited_and_answered_with_fresh_params(server, gateway, channel):
    info = gateway.discover(channel)
    seg = header(gateway.segment(info, b"stream-1"))
    r = post(server, header(payment_to_pb(gateway.pay(info, [0, 1, 2]))), seg)
    assert r.status_code == 200, r.text
    reply = pb.PaymentResult.FromString(r.content).info
    assert reply.auth_token == info.auth_token  # the gateway's own token
    assert reply.price_info == info.price_info and reply.address == info.address
    assert reply.ticket_params.seed != info.ticket_params.seed  # new params every time
    face_value = int.from_bytes(info.ticket_params.face_value, "big")
    ev = Fraction(face_value * int.from_bytes(info.ticket_params.win_prob, "big"), MAX)
    assert balance(server, gateway, "stream-1") == 3 * ev  # SegData.manifestId is the key
    pinned = httpx.get(
        f"{server.cli_url}/balance", params={"sender": gateway.checksum, "key": "stream-1"}
    ).json()["price_wei_per_unit"]
    assert Fraction(pinned) == Fraction(info.price_info.pricePerUnit, info.price_info.pixelsPerUnit)
    # The fresh params in the reply pay too (a gateway keeps paying with them).
    price = gateway.pay(info, []).expected_price
    again = gateway.tickets.pay(params_from_pb(reply.ticket_params), [0], price)
    assert post(server, header(payment_to_pb(again)), seg).status_code == 200
    assert balance(server, gateway, "stream-1") == 4 * ev
    metrics = httpx.get(f"{server.cli_url}/metrics").text
    assert 'lpengine_tickets_total{result="credited",' in metrics


Mutation = Callable[[pb.Payment], None]


def _set_sig(i: int, sig: Callable[[bytes], bytes]) -> Mutation:
    def mutate(m: pb.Payment) -> None:
        m.ticket_sender_params[i].sig = sig(m.ticket_sender_params[i].sig)

    return mutate


def _high_s(sig: bytes) -> bytes:
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = (n - int.from_bytes(sig[32:64], "big")).to_bytes(32, "big")
    return sig[:32] + s + bytes((55 - sig[64],))  # the same point: valid for ecrecover, not go


def _field(name: str, value: object) -> Mutation:
    def mutate(m: pb.Payment) -> None:
        target = m
        *path, last = name.split(".")
        for part in path:
            target = getattr(target, part)
        setattr(target, last, value)

    return mutate


def _bump(name: str) -> Mutation:
    def mutate(m: pb.Payment) -> None:
        params = m.ticket_params
        value = int.from_bytes(getattr(params, name), "big") + 1
        setattr(params, name, value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return mutate


RAND = "invalid recipientRand for ticket recipientRandHash"
REFUSED: list[tuple[str, Mutation, int, str]] = [
    ("recipient", _field("ticket_params.recipient", b"\x07" * 20), 400, "invalid ticket recipient"),
    ("sender 0x0", _field("sender", bytes(20)), 403, "ErrSegSig"),  # SegData is signed by it
    ("sig length", _set_sig(0, lambda s: s[:64]), 400, "invalid ticket signature"),
    ("sig high-S", _set_sig(0, _high_s), 400, "invalid ticket signature"),
    ("sig v", _set_sig(0, lambda s: s[:64] + b"\x1d"), 400, "invalid ticket signature"),
    ("sig byte", _set_sig(0, lambda s: bytes([s[0] ^ 1]) + s[1:]), 400, "invalid ticket signature"),
    ("recipientRandHash", _field("ticket_params.recipient_rand_hash", b"\x01" * 32), 400, RAND),
    ("seed", _bump("seed"), 400, RAND),
    ("face value", _bump("face_value"), 400, RAND),
    ("absurd face value", _field("ticket_params.face_value", b"\xff" * 100), 400, RAND),
    ("win prob", _bump("win_prob"), 400, RAND),
    ("expiration block", _bump("expiration_block"), 400, RAND),
    ("creation round", _field("expiration_params.creation_round", 1), 400, RAND),
    ("block hash", _field("expiration_params.creation_round_block_hash", b"\x02" * 32), 400, RAND),
    ("expected price", _field("expected_price.pricePerUnit", 10**9), 400, RAND),
    (
        "zero pixelsPerUnit",
        _field("expected_price.pixelsPerUnit", 0),
        400,
        'invalid expected price sent with payment err="pixels per unit is 0"',
    ),
    (
        "no expected price",
        lambda m: m.ClearField("expected_price"),
        400,
        'invalid expected price sent with payment err="expected price is nil"',
    ),
]


@pytest.mark.parametrize("case,mutate,status,text", REFUSED, ids=[c[0] for c in REFUSED])
def test_a_wrong_payment_is_refused_and_credits_nothing(
    server, gateway, channel, case, mutate, status, text
):
    info = gateway.discover(channel)
    key = f"refused-{case}"
    seg = header(gateway.segment(info, key.encode()))
    m = payment_to_pb(gateway.pay(info, [0, 1]))
    mutate(m)
    r = post(server, header(m), seg)
    assert (r.status_code, r.text) == (status, text + "\n")
    assert balance(server, gateway, key) is None  # nothing credited, nothing pinned
    good = post(server, header(payment_to_pb(gateway.pay(info, [2]))), seg)
    assert good.status_code == 200, good.text  # the next good payment is taken
    assert balance(server, gateway, key) is not None


def test_replays_and_partial_credit(server, gateway, channel):
    info = gateway.discover(channel)
    seg = header(gateway.segment(info, b"replays"))
    first = header(payment_to_pb(gateway.pay(info, [5, 6])))
    assert post(server, first, seg).status_code == 200
    credited = balance(server, gateway, "replays")
    replay = post(server, first, seg)
    assert (replay.status_code, replay.text) == (
        400,
        f"invalid ticket senderNonce: already seen sender={gateway.checksum} nonce=6\n",
    )
    assert balance(server, gateway, "replays") == credited
    # [new, seen, new]: the first is credited, the one after the error is not (go's rule).
    mixed = post(server, header(payment_to_pb(gateway.pay(info, [7, 5, 8]))), seg)
    assert mixed.status_code == 400 and "already seen" in mixed.text
    assert balance(server, gateway, "replays") == credited * Fraction(3, 2)


def test_undecodable_headers_and_bad_segment_signatures(server, gateway, channel):
    info = gateway.discover(channel)
    seg = gateway.segment(info, b"headers")
    good = header(payment_to_pb(gateway.pay(info, [0])))
    other = WireGateway(STRANGER_KEY).segment(info, b"headers")  # signed by someone else
    cases = [
        ("%%%", header(seg), 402, "base64 decode error: "),
        ("YWJj", header(seg), 402, "protobuf unmarshal error: "),
        (good, header(other), 403, "ErrSegSig\n"),
        (good, "!!", 403, "ErrorSegEncoding\n"),
        ("", header(seg), 403, "ErrSegSig\n"),  # the SDK's empty payment: signed by nobody
    ]
    for payment, segment, status, text in cases:
        r = post(server, payment, segment)
        assert r.status_code == status and r.text.startswith(text), (payment[:8], r.text)
    assert balance(server, gateway, "headers") is None
    assert post(server, good, header(seg)).status_code == 200


def test_expired_params_are_refused(server, gateway, channel):
    info = gateway.discover(channel)
    seg = header(gateway.segment(info, b"expiry"))
    mined = httpx.post(f"{server.cli_url}/simulated/mine", data={"blocks": "40"})
    assert mined.status_code == 200
    r = post(server, header(payment_to_pb(gateway.pay(info, [0]))), seg)
    assert (r.status_code, r.text) == (400, "TicketParams expired\n")
    assert balance(server, gateway, "expiry") is None
    fresh = gateway.discover(channel)
    assert post(server, header(payment_to_pb(gateway.pay(fresh, [0]))), seg).status_code == 200


def test_operator_routes_of_the_simulated_chain(server: ServerProcess):
    cli = server.cli_url
    assert httpx.post(f"{cli}/simulated/fund", data={"sender": "0x12"}).status_code == 400
    bad = {"sender": "0x" + "ab" * 20, "deposit": "1.5", "reserve": "1"}
    r = httpx.post(f"{cli}/simulated/fund", data=bad)
    assert r.status_code == 400 and "whole number of wei" in r.text
    assert httpx.post(f"{cli}/simulated/mine", data={"blocks": "0"}).status_code == 400
    block = chain(server)["block"]
    assert httpx.post(f"{cli}/simulated/mine").json()["block"] >= block + 1
    state = Path(server.data_dir) / "simulated-chain.json"  # type: ignore[attr-defined]
    assert state.exists()
    r = httpx.get(f"{cli}/balance", params={"sender": "nope"})
    assert r.status_code == 400
    # The operator's view quotes the zero address, which has no reserve here: said, not a 500.
    info = httpx.get(f"{cli}/orchestratorInfo").json()
    assert info["quote_error"] == "insufficient sender reserve" and info["price_info"] is None
    assert info["address"] == "0x" + node_address(server).hex()


def test_no_params_for_the_sender_is_a_500_as_in_go(server, gateway, channel):
    info = gateway.discover(channel)
    stranger = WireGateway(STRANGER_KEY)  # signs its own segment, but has no reserve
    payment = payment_to_pb(gateway.pay(info, [0]))
    payment.sender = stranger.address
    r = post(server, header(payment), header(stranger.segment(info, b"stranger")))
    assert (r.status_code, r.text) == (500, "Internal Server Error\n")  # the cause is logged
