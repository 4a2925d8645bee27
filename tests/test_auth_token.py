from __future__ import annotations

import stat

import pytest

from lpengine.auth_token import (
    SECRET_FILE,
    VALIDITY_S,
    AuthToken,
    AuthTokenError,
    AuthTokens,
)

SECRET = bytes(range(32))


def test_known_answer_vector():
    # HMAC-SHA256(secret, "0123abcd" || 0x6553f100), checked with `openssl dgst -mac HMAC`.
    tokens = AuthTokens(SECRET)
    assert tokens.sign("0123abcd", 1_700_000_000).hex() == (
        "00a38c5d7c936ee04914f24f56f45a0bf82ab91411f2bccc0728ea2eec04c265"
    )
    # Expiration 0 encodes as no bytes at all (go's big.Int.Bytes()).
    assert tokens.sign("0123abcd", 0).hex() == (
        "be2650b00a53459cbe36d6f4167eecd3129e163baa5893b575f07aedcf1f8162"
    )


def test_issued_tokens():
    tokens = AuthTokens(SECRET)
    a, b = tokens.issue(now=1000), tokens.issue(now=1000)
    assert a.session_id != b.session_id
    assert len(a.session_id) == 8 and int(a.session_id, 16) >= 0 and a.session_id.islower()
    assert a.expiration == 1000 + VALIDITY_S == 2800 and len(a.token) == 32
    assert tokens.check(a, now=2800) == a  # valid up to and including the expiration second


def test_check_errors_carry_gos_texts():
    tokens = AuthTokens(SECRET)
    token = tokens.issue(now=0)
    with pytest.raises(AuthTokenError, match=r"^missing auth token$"):
        tokens.check(None)
    forged = AuthToken(bytes(32), token.session_id, token.expiration)
    with pytest.raises(AuthTokenError, match=r"^invalid auth token$"):
        tokens.check(forged, now=0)
    moved = AuthToken(token.token, token.session_id, token.expiration + 1)  # extended: forged
    with pytest.raises(AuthTokenError, match=r"^invalid auth token$"):
        tokens.check(moved, now=0)
    with pytest.raises(AuthTokenError, match=r"^expired auth token$"):
        tokens.check(token, now=token.expiration + 1)
    assert not AuthTokens(bytes(32)).is_authentic(token)


def test_secret_is_persisted_and_private(tmp_path):
    first = AuthTokens.load_or_create(tmp_path / "data")
    token = first.issue()
    path = tmp_path / "data" / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = AuthTokens.load_or_create(tmp_path / "data")  # a restart: same secret
    assert again.is_authentic(token)


def test_corrupt_secret_is_refused_with_advice(tmp_path):
    (tmp_path / SECRET_FILE).write_bytes(b"short")
    with pytest.raises(ValueError, match="delete it"):
        AuthTokens.load_or_create(tmp_path)
    with pytest.raises(ValueError, match="secret"):
        AuthTokens(b"tiny")
