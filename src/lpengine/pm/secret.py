"""The 32-byte recipientRand secret, kept across restarts (go-livepeer #1426 voids params).

go draws the secret at process start, so every ticket params a gateway holds fails with
`invalid recipientRand…` after a restart. lpengine keeps it in the data directory (created
once, atomically, mode 0600) or derives it from the node's ETH key, so params outlive restarts.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path

SECRET_BYTES = 32
SECRET_FILE = "pm-recipient-secret"
_DERIVATION_LABEL = b"lpengine/pm/recipient-rand/v1"


def derive_secret(node_key: bytes) -> bytes:
    """A secret bound to the node's private key: same key, same secret, on any machine."""
    if len(node_key) != 32:
        raise ValueError(f"node_key: expected 32 bytes, got {len(node_key)}")
    return hmac.digest(node_key, _DERIVATION_LABEL, "sha256")


def load_or_create_secret(data_dir: Path) -> bytes:
    """The secret in `data_dir/pm-recipient-secret`, created on first use."""
    path = data_dir / SECRET_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, os.urandom(SECRET_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # NOTE: link, not rename: if another process created the file meanwhile, keep theirs.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    dir_fd = os.open(data_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return _read(path)


def _read(path: Path) -> bytes:
    secret = path.read_bytes()
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"{path}: expected a {SECRET_BYTES}-byte secret, got {len(secret)} bytes")
    return secret
