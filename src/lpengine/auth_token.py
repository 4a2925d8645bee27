"""Auth tokens: the session credential every GetOrchestrator answer carries.

token = HMAC-SHA256(secret, utf8(session_id) || minimal-big-endian(expiration)), valid 30 minutes
(protocol.md §5.6). Unlike go-livepeer, whose secret lives only as long as the process, the secret
is kept in the data dir, so a restart does not void the tokens gateways hold.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

VALIDITY_S = 30 * 60
SECRET_BYTES = 32
SECRET_FILE = "auth_token_secret"


@dataclass(frozen=True)
class AuthToken:
    token: bytes  # 32 bytes
    session_id: str  # 8 lowercase hex characters
    expiration: int  # unix seconds


class AuthTokenError(Exception):
    """A token that is missing, forged or expired; the message is go-livepeer's error text."""


def _minimal_big_endian(value: int) -> bytes:
    # go writes big.Int(expiration).Bytes(): the magnitude, no sign byte, empty for 0
    value = abs(value)
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


class AuthTokens:
    """Issues and checks auth tokens with one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError(f"secret: expected at least 16 bytes, got {len(secret)}")
        self._secret = secret

    @classmethod
    def load_or_create(cls, data_dir: Path) -> AuthTokens:
        """Reads the secret from `data_dir`, creating it (mode 0600) on first use."""
        path = data_dir / SECRET_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(SECRET_BYTES))
            os.replace(tmp, path)  # NOTE: atomic, so a crash never leaves a short secret
            log.info("created the auth token secret %s", path)
        secret = path.read_bytes()
        if len(secret) != SECRET_BYTES:
            raise ValueError(
                f"{path}: expected a {SECRET_BYTES}-byte secret, found {len(secret)} bytes; "
                "delete it to make a new one (outstanding auth tokens become invalid)"
            )
        return cls(secret)

    def sign(self, session_id: str, expiration: int) -> bytes:
        msg = session_id.encode() + _minimal_big_endian(expiration)
        return hmac.new(self._secret, msg, hashlib.sha256).digest()

    def issue(self, now: float | None = None) -> AuthToken:
        """A fresh token for a new session id, valid for 30 minutes from `now`."""
        session_id = secrets.token_hex(4)
        expiration = int(time.time() if now is None else now) + VALIDITY_S
        return AuthToken(self.sign(session_id, expiration), session_id, expiration)

    def is_authentic(self, token: AuthToken) -> bool:
        return hmac.compare_digest(self.sign(token.session_id, token.expiration), token.token)

    def check(self, token: AuthToken | None, now: float | None = None) -> AuthToken:
        """Raises AuthTokenError unless `token` is present, ours and unexpired."""
        if token is None:
            raise AuthTokenError("missing auth token")
        if not self.is_authentic(token):
            raise AuthTokenError("invalid auth token")
        if (time.time() if now is None else now) > token.expiration:
            raise AuthTokenError("expired auth token")
        return token
