"""Ethereum addresses: 20 raw bytes inside the engine, EIP-55 checksummed hex at the edges."""

from __future__ import annotations

import functools

from lpengine.pm.keccak import keccak256

ADDRESS_BYTES = 20
ZERO_ADDRESS = bytes(ADDRESS_BYTES)


def to_address(raw: bytes) -> bytes:
    """go-ethereum's `BytesToAddress`: keep the last 20 bytes, left-pad shorter input with zeros.

    The wire carries addresses as free-length bytes; go normalizes them this way before it
    hashes or compares, so a ticket signed over the normalized address must validate here too.
    """
    if len(raw) == ADDRESS_BYTES:
        return raw
    return raw[-ADDRESS_BYTES:].rjust(ADDRESS_BYTES, b"\0")


def to_hash32(raw: bytes) -> bytes:
    """go-ethereum's `BytesToHash`: keep the last 32 bytes, left-pad shorter input with zeros."""
    if len(raw) == 32:
        return raw
    return raw[-32:].rjust(32, b"\0")


@functools.lru_cache(maxsize=65536)
def checksum(address: bytes) -> str:
    """EIP-55 mixed-case hex with the 0x prefix, as go's `Address.Hex()` prints it."""
    if len(address) != ADDRESS_BYTES:
        raise ValueError(f"address: expected {ADDRESS_BYTES} bytes, got {len(address)}")
    lower = address.hex()
    nibbles = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(n, 16) >= 8 else c
        for c, n in zip(lower, nibbles[:40], strict=True)
    )


def parse(text: str) -> bytes:
    """A 0x-prefixed (or bare) 40-hex-digit address; mixed case must carry a valid checksum."""
    body = text[2:] if text[:2] in ("0x", "0X") else text
    if len(body) != 2 * ADDRESS_BYTES:
        raise ValueError(f"address: expected 40 hex digits, got {text!r}")
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raise ValueError(f"address: expected hex digits, got {text!r}") from None
    if body != body.lower() and body != body.upper() and checksum(raw)[2:] != body:
        raise ValueError(f"address: bad EIP-55 checksum in {text!r}")
    return raw


def from_public_key(public_key: bytes) -> bytes:
    """The address of an uncompressed secp256k1 key (65 bytes, 0x04 ‖ X ‖ Y, or the 64 of X ‖ Y)."""
    if len(public_key) == 65:
        public_key = public_key[1:]
    if len(public_key) != 64:
        raise ValueError(f"public_key: expected 64 or 65 bytes, got {len(public_key)}")
    return keccak256(public_key)[12:]
