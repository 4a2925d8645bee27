"""recipientRand's HMAC input (protocol.md §7.2); the secret's persistence (go-livepeer #1426)."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from fractions import Fraction
from pathlib import Path

import pytest

from lpengine.pm.recipient_rand import rand_hash, rand_message, recipient_rand
from lpengine.pm.secret import SECRET_FILE, derive_secret, load_or_create_secret
from tests.pm.keccak_reference import keccak256_reference

SENDER = bytes(range(20))
AUX = (7).to_bytes(32, "big") + b"\xab" * 32


def test_message_is_go_layout_built_by_hand() -> None:
    msg = rand_message(
        seed=0x0102, sender=SENDER, face_value_wei=256, win_prob=0, expiration_block=1040,
        price=Fraction(1200, 3), aux_data=AUX,
    )  # fmt: skip
    # seed ‖ sender ‖ faceValue ‖ winProb(0: empty) ‖ block ‖ 400 ‖ 1 ‖ auxData, minimal bytes.
    assert (
        msg == b"\x01\x02" + SENDER + b"\x01\x00" + b"" + b"\x04\x10" + b"\x01\x90" + b"\x01" + AUX
    )


def test_price_is_reduced_and_zero_is_zero_over_one() -> None:
    args = dict(
        seed=1, sender=SENDER, face_value_wei=1, win_prob=1, expiration_block=1, aux_data=b""
    )
    assert rand_message(price=Fraction(2, 4), **args) == rand_message(price=Fraction(1, 2), **args)  # type: ignore[arg-type]
    zero = rand_message(price=Fraction(0), **args)  # type: ignore[arg-type]
    assert zero.endswith(b"\x01" + b"\x01" + b"\x01" + b"" + b"\x01")


def test_rand_and_hash_match_an_independent_hmac() -> None:
    secret = bytes(range(32))
    msg = b"message"
    expected = int.from_bytes(hmac.new(secret, msg, hashlib.sha256).digest(), "big")
    assert recipient_rand(secret, msg) == expected
    assert rand_hash(expected) == keccak256_reference(expected.to_bytes(32, "big"))
    assert rand_hash(1) == keccak256_reference(bytes(31) + b"\x01")  # padded, not minimal


def test_secret_is_created_once_and_kept(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path / "d")
    assert len(first) == 32
    assert load_or_create_secret(tmp_path / "d") == first
    mode = stat.S_IMODE(os.stat(tmp_path / "d" / SECRET_FILE).st_mode)
    assert mode == 0o600
    assert load_or_create_secret(tmp_path / "other") != first
    assert [p.name for p in (tmp_path / "d").iterdir()] == [SECRET_FILE]  # no temp file left


def test_a_damaged_secret_is_an_error(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_bytes(b"short")
    with pytest.raises(ValueError, match="32-byte secret"):
        load_or_create_secret(tmp_path)


def test_derived_secret_is_deterministic_per_key() -> None:
    assert derive_secret(b"\x01" * 32) == derive_secret(b"\x01" * 32)
    assert derive_secret(b"\x01" * 32) != derive_secret(b"\x02" * 32)
    with pytest.raises(ValueError, match="32 bytes"):
        derive_secret(b"\x01")
