"""Ethereum keccak-256 (the pre-NIST padding, not hashlib's sha3_256).

safe-pysha3's C implementation is used: it hashes a 232-byte ticket about 4x faster than
pycryptodome's `Crypto.Hash.keccak` once call overhead is counted (bench/pm/bench_validate.py
prints both rates), and payment validation spends three keccaks per ticket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import sha3  # type: ignore[import-untyped]  # safe-pysha3 ships no type information


class _Hash(Protocol):
    def digest(self) -> bytes: ...


keccak_256: Callable[[bytes], _Hash] = sha3.keccak_256
"""The raw constructor, for hot loops: `keccak_256(data).digest()`."""


def keccak256(data: bytes) -> bytes:
    """keccak-256 of `data`: 32 bytes."""
    return keccak_256(data).digest()
