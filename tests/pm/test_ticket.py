"""Ticket hash layout, auxData and EV: go-livepeer's own vectors, plus an independent layout."""

from __future__ import annotations

import struct
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lpengine.pm.ticket import MAX_WIN_PROB, Ticket, aux_data, expected_value, minimal_bytes
from tests.pm.keccak_reference import keccak256_reference

ZERO20, ZERO32 = bytes(20), bytes(32)
RAND_HASH = bytes.fromhex("41b1a0649752af1b28b3dc29a1556eee781e4a4c3a1f7f53f90fa834de098c4d")

# go-livepeer pm/ticket_test.go, TestHash: (ticket fields, expected hash).
GO_HASH_VECTORS = [
    (
        dict(sender_nonce=2**32 - 1),
        "e1393fc7f6de093780674022f96cb8e3872235167d037c04d554e58c0e63d280",
    ),
    (dict(sender_nonce=1), "ce0918ba94518293e9712effbe5fca4f1f431089833a5b8c257cb1e024595f68"),
    (
        dict(face_value_wei=1, win_prob=500),
        "87ef13f2d37e4d5352a01d3c77b8179d80e0887f1953bfabfd0bfd7b0f689ddd",
    ),
    (
        dict(face_value_wei=500, win_prob=1),
        "aa4b35071043587992ac8b9dd1b2cf1d8311130e6458cf0b2342484e21af5f5b",
    ),
    (
        dict(recipient=bytes.fromhex("73AEd7b5dEb30222fa896f399d46cC99c7BEe57F")),
        "81e353ae39046e2b77b9f996abbaeed527fda559b61ef90f299c4499dd508ccc",
    ),
    (
        dict(recipient_rand_hash=RAND_HASH),
        "be5eaf9a49a39540b9bb02f1a21904f61324a29819e2c032824bfaa10c100b17",
    ),
    (
        dict(creation_round=10, creation_round_block_hash=RAND_HASH),
        "e502907c16036ab3d11b78c5a2e93c20f3d6415c67f91de4ed01348182b3b2e2",
    ),
]


def ticket(**fields: object) -> Ticket:
    base: dict[str, object] = dict(
        recipient=ZERO20, sender=ZERO20, face_value_wei=0, win_prob=0, sender_nonce=0,
        recipient_rand_hash=ZERO32,
    )  # fmt: skip
    base.update(fields)
    return Ticket(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("fields", "expected"), GO_HASH_VECTORS)
def test_hash_matches_go_livepeer_vectors(fields: dict[str, object], expected: str) -> None:
    assert ticket(**fields).hash().hex() == expected


def test_aux_data_matches_go_livepeer_vectors() -> None:
    # go-livepeer pm/ticket_test.go, TestAuxData.
    block = bytes.fromhex("7624778dedc75f8b322b9fa1632a610d40b85e106c7d9bf0e743a9ce291b9c6f")
    assert aux_data(0, block) == ZERO32 + block
    assert aux_data(5, ZERO32) == (5).to_bytes(32, "big") + ZERO32
    assert aux_data(0, ZERO32) == b""
    assert aux_data(5, block) == (5).to_bytes(32, "big") + block


def test_flatten_is_168_or_232_bytes() -> None:
    assert len(ticket().flatten()) == 168
    assert len(ticket(creation_round=1).flatten()) == 232


def test_expected_value_matches_go_livepeer() -> None:
    # go-livepeer pm/ticket_test.go, TestEV (FloatString(0) rounds to nearest).
    assert round(expected_value(1000, MAX_WIN_PROB // 2)) == 500
    assert expected_value(1000, 0) == 0
    assert expected_value(1000, MAX_WIN_PROB) == 1000
    assert expected_value(0, 999) == 0
    assert isinstance(expected_value(3, 7), Fraction)


def test_minimal_bytes_is_go_big_int_bytes() -> None:
    assert minimal_bytes(0) == b""
    assert minimal_bytes(1) == b"\x01"
    assert minimal_bytes(256) == b"\x01\x00"


def test_out_of_range_fields_do_not_hash() -> None:
    with pytest.raises(OverflowError):
        ticket(face_value_wei=2**256).hash()
    with pytest.raises(OverflowError):
        ticket(win_prob=-1).hash()


@given(
    recipient=st.binary(min_size=20, max_size=20),
    sender=st.binary(min_size=20, max_size=20),
    face_value=st.integers(0, 2**256 - 1),
    win_prob=st.integers(0, 2**256 - 1),
    nonce=st.integers(0, 2**32 - 1),
    rand_hash=st.binary(min_size=32, max_size=32),
    creation_round=st.integers(0, 2**63 - 1),
    block_hash=st.binary(min_size=32, max_size=32),
)
def test_hash_equals_an_independent_layout(
    recipient: bytes,
    sender: bytes,
    face_value: int,
    win_prob: int,
    nonce: int,
    rand_hash: bytes,
    creation_round: int,
    block_hash: bytes,
) -> None:
    t = ticket(
        recipient=recipient, sender=sender, face_value_wei=face_value, win_prob=win_prob,
        sender_nonce=nonce, recipient_rand_hash=rand_hash, creation_round=creation_round,
        creation_round_block_hash=block_hash,
    )  # fmt: skip
    # abi.encodePacked(address, address, uint256 x3, bytes32, bytes auxData), built another way.
    words = [face_value >> 128, face_value & (2**128 - 1), win_prob >> 128, win_prob & (2**128 - 1)]
    layout = recipient + sender + b"".join(w.to_bytes(16, "big") for w in words)
    layout += bytes(28) + struct.pack(">I", nonce) + rand_hash
    if creation_round or any(block_hash):
        layout += bytes(24) + struct.pack(">Q", creation_round) + block_hash
    assert t.flatten() == layout
    assert t.hash() == keccak256_reference(layout)
