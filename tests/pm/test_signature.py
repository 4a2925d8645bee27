"""EIP-191 signatures with go's rules: go-livepeer's own vector, and eth_account / eth_keys."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys import KeyAPI
from eth_keys.backends import NativeECCBackend
from hypothesis import given, settings
from hypothesis import strategies as st

from lpengine.pm import address
from lpengine.pm.signature import (
    SECP256K1_N,
    SignatureError,
    Signer,
    personal_digest,
    recover,
    verify,
)

# go-livepeer crypto/verify_test.go, TestEcrecover / TestVerifySig.
GO_ADDR = address.parse("0x3BadDb1eeE2105893136A3F96c8a963E9C6309d6")
GO_MSG = bytes.fromhex("b7da355477356fc4c47fcabcf232dc77a6db9b07b7e48b76261cc55cc8fbabb3")
GO_SIG = bytes.fromhex(
    "206443228e8f784bc3a122de0d85eb3ebff82d6a79cca26c7eeb907099a6404f"
    "6dff57bc6828f28bd6cd073c89d94cf3364204679ed8365fa45b5ee6af19a9841c"
)
GO_SIG_HIGH_S = bytes.fromhex(
    "e742ff452d41413616a5bf43fe15dd88294e983d3d36206c2712f39083d638bd"
    "e0a0fc89be718fbc1033e1d30d78be1c68081562ed2e97af876f286f3453231d1b"
)
NATIVE = KeyAPI(NativeECCBackend)  # pure-Python ECDSA: shares nothing with libsecp256k1


def test_go_livepeer_vector_recovers_its_address() -> None:
    assert recover(GO_MSG, GO_SIG) == GO_ADDR
    assert verify(GO_ADDR, GO_MSG, GO_SIG)
    assert not verify(GO_ADDR, b"\xf0\x0f", GO_SIG)


@pytest.mark.parametrize(
    ("sig", "message"),
    [
        (GO_SIG[:64], "invalid signature length"),
        (GO_SIG + b"\x00", "invalid signature length"),
        (GO_SIG_HIGH_S, "signature s value too high"),
        (bytes(65), "signature v value must be 27 or 28"),
        (GO_SIG[:64] + b"\x00", "signature v value must be 27 or 28"),
        (GO_SIG[:64] + b"\x1d", "signature v value must be 27 or 28"),
    ],
)
def test_go_rules_refuse(sig: bytes, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        recover(GO_MSG, sig)
    assert not verify(GO_ADDR, GO_MSG, sig)


def test_high_s_twin_of_a_valid_signature_is_refused() -> None:
    r, s, v = GO_SIG[:32], int.from_bytes(GO_SIG[32:64], "big"), GO_SIG[64]
    twin = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes((55 - v,))  # same key, high S
    with pytest.raises(SignatureError, match="s value too high"):
        recover(GO_MSG, twin)


def test_r_or_s_out_of_range_is_refused_not_crashed() -> None:
    for bad in (bytes(64) + b"\x1b", b"\xff" * 32 + bytes(31) + b"\x01\x1b"):
        assert not verify(GO_ADDR, GO_MSG, bad)


@settings(max_examples=20, deadline=None)
@given(key=st.integers(1, SECP256K1_N - 1), message=st.binary(min_size=32, max_size=32))
def test_signatures_agree_with_eth_keys_and_eth_account(key: int, message: bytes) -> None:
    private = key.to_bytes(32, "big")
    ours = Signer(private)
    theirs = NATIVE.PrivateKey(private)
    assert address.checksum(ours.address) == theirs.public_key.to_checksum_address()
    native = theirs.sign_msg_hash(personal_digest(message)).to_bytes()
    sig = ours.sign(message)
    # RFC 6979 on both sides: the very same bytes, v shifted by 27 (go's convention).
    assert sig == native[:64] + bytes((native[64] + 27,))
    assert bytes(Account.sign_message(encode_defunct(primitive=message), private).signature) == sig
    assert recover(message, sig) == ours.address
