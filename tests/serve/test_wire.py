from __future__ import annotations

import base64

import pytest
from eth_utils import keccak

from lpengine.auth_token import AuthToken
from lpengine.capabilities import CapabilitySet, ModelConstraint, encode_bitstring
from lpengine.discovery import HardwareInfo, OrchestratorInfo
from lpengine.hardware import GpuInfo
from lpengine.net import lp_rpc_pb2 as pb
from lpengine.payment import TicketExpirationParams, TicketParams
from lpengine.pricing import PriceInfo
from lpengine.serve import wire

CAPS = CapabilitySet(
    bitstring=encode_bitstring([0, 1, 35, 70]),
    capacities={0: 1, 1: 1, 35: 2, 70: 1},
    version="0.1.0",
    min_version="0.0.9",
    per_capability={35: {"noop": ModelConstraint(True, 1, "0.2.0", 1)}},
)
TOKEN = AuthToken(b"t" * 32, "0123abcd", 1_800_000_000)


def test_capabilities_round_trip():
    m = pb.Capabilities()
    wire.capabilities_to_pb(CAPS, m)
    assert list(m.bitstring) == [(1 << 0) | (1 << 1) | (1 << 35), 1 << 6]
    assert wire.capabilities_from_pb(pb.Capabilities.FromString(m.SerializeToString())) == CAPS


def test_orchestrator_info_to_wire():
    gpu = GpuInfo(0, "NVIDIA H100", "GPU-1", 9, 0, 1, 2)
    info = OrchestratorInfo(
        transcoder="https://h:1",
        address=bytes(20),
        capabilities=CAPS,
        auth_token=TOKEN,
        price_info=PriceInfo(333333, 1000),
        capabilities_prices=(PriceInfo(7, 1, 35, "noop"),),
        hardware=(HardwareInfo("live-video-to-video", "noop", (gpu,)),),
        nodes=("https://h2:1",),
    )
    m = pb.OrchestratorInfo.FromString(wire.orchestrator_info_to_pb(info).SerializeToString())
    assert (
        m.transcoder == "https://h:1"
        and m.address == bytes(20)
        and list(m.nodes) == ["https://h2:1"]
    )
    assert (m.price_info.pricePerUnit, m.price_info.pixelsPerUnit) == (333333, 1000)
    assert (
        m.capabilities_prices[0].capability == 35 and m.capabilities_prices[0].constraint == "noop"
    )
    assert wire.auth_token_from_pb(m.auth_token) == TOKEN
    assert wire.capabilities_from_pb(m.capabilities) == CAPS
    g = m.hardware[0].gpu_info["0"]
    assert (g.id, g.name, g.major, g.memory_total) == ("GPU-1", "NVIDIA H100", 9, 2)
    assert not m.HasField("ticket_params")
    # The cached capability bytes follow a new advertisement.
    other = OrchestratorInfo("https://h:1", bytes(20), CapabilitySet(version="2"), TOKEN)
    assert wire.orchestrator_info_to_pb(other).capabilities.version == "2"


def test_empty_payment_header_is_an_empty_payment():
    assert wire.decode_payment_header("").is_empty  # what the SDK sends off-chain (§12.7)


def test_payment_header_decodes_big_integers():
    m = pb.Payment(sender=b"\x01" * 20)
    m.ticket_params.face_value = (10**18).to_bytes(8, "big")
    m.ticket_params.win_prob = b"\x01\x00"
    m.ticket_params.expiration_params.creation_round = 5
    m.ticket_sender_params.add(sender_nonce=3, sig=b"s" * 65)
    m.expected_price.pricePerUnit = 10
    m.expected_price.pixelsPerUnit = 1
    p = wire.decode_payment_header(base64.b64encode(m.SerializeToString()).decode())
    assert p.ticket_params is not None and p.ticket_params.face_value == 10**18
    assert p.ticket_params.win_prob == 256 and p.ticket_params.expiration_params.creation_round == 5
    assert p.ticket_sender_params[0].sender_nonce == 3 and p.expected_price == PriceInfo(10, 1)
    assert not p.is_empty


@pytest.mark.parametrize(
    "header,error",
    [
        ("not base64!", "base64 decode error"),
        ("YWJj", "protobuf unmarshal error"),  # "abc": not a Payment
        ("YWJ", "base64 decode error"),  # missing padding
        ("YW-j", "base64 decode error"),  # URL-safe alphabet
    ],
)
def test_bad_payment_headers(header, error):
    with pytest.raises(wire.WireError, match=error):
        wire.decode_payment_header(header)


def test_segment_header():
    seg = pb.SegData(manifestId=b"mid", duration=2000)
    seg.auth_token.session_id = "0123abcd"
    seg.auth_token.token = b"t" * 32
    seg.auth_token.expiration = 1_800_000_000
    creds = wire.decode_segment_header(base64.b64encode(seg.SerializeToString()).decode())
    assert creds.auth_token == TOKEN and creds.manifest_id == b"mid" and creds.capabilities is None
    assert wire.decode_segment_header("").auth_token is None  # empty: no token (then 403)
    for bad in ("%%%", "YWJj"):
        with pytest.raises(wire.WireError, match=r"^ErrorSegEncoding$"):
            wire.decode_segment_header(bad)


def test_ticket_params_go_out_as_minimal_big_endian_bytes():
    params = TicketParams(
        recipient=b"\x0a" * 20,
        face_value=10**17,
        win_prob=2**256 - 1,
        recipient_rand_hash=b"\x0b" * 32,
        seed=0,
        expiration_block=256,
        expiration_params=TicketExpirationParams(7, b"\x0c" * 32),
    )
    info = OrchestratorInfo("https://h:1", b"\x0d" * 20, CAPS, TOKEN, ticket_params=params)
    m = pb.OrchestratorInfo.FromString(wire.orchestrator_info_to_pb(info).SerializeToString())
    t = m.ticket_params
    assert t.face_value == bytes.fromhex("016345785d8a0000") and t.win_prob == b"\xff" * 32
    assert t.seed == b"" and t.expiration_block == b"\x01\x00"  # 0 is empty, as go's Bytes()
    assert (t.recipient, t.recipient_rand_hash) == (b"\x0a" * 20, b"\x0b" * 32)
    exp = t.expiration_params
    assert (exp.creation_round, exp.creation_round_block_hash) == (7, b"\x0c" * 32)


def test_segment_profile_ids_and_signed_bytes():
    # Known answers from protocol.md §6: the first 4 bytes of keccak256(profile name).
    seg = pb.SegData(manifestId=b"m", seq=258, hash=b"\x01" * 31)
    seg.fullProfiles.add(name="ignored")  # an older list: fullProfiles3 wins
    seg.fullProfiles3.add(name="P720p30fps16x9")
    seg.fullProfiles3.add(name="P360p30fps16x9")
    creds = wire.segment_from_pb(seg)
    assert creds.profile_ids == bytes.fromhex("49d54ea993c717e7")
    assert creds.signed_bytes() == (
        b"m" + (258).to_bytes(32, "big") + b"\x00" + b"\x01" * 31 + b"49d54ea993c717e7"
    )
    unnamed = pb.SegData()
    unnamed.fullProfiles2.add(width=1280, height=720, bitrate=6000000)
    assert wire.segment_from_pb(unnamed).profile_ids == keccak(text="net_1280x720_6000000")[:4]
    legacy = pb.SegData(profiles=bytes.fromhex("49d54ea993c717e7") + b"xy")
    assert wire.segment_from_pb(legacy).profile_ids == bytes.fromhex("49d54ea993c717e7")
    assert wire.segment_from_pb(pb.SegData()).signed_bytes() == bytes(64)
