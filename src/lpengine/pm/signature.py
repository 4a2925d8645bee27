"""EIP-191 personal signatures with go-livepeer's rules (`crypto/verify.go`), on libsecp256k1.

A signature is 65 bytes r ‖ s ‖ v with v in {27, 28} and s in the lower half of the curve order
(go refuses high-S even though ecrecover would accept it). The signed digest is
keccak256("\\x19Ethereum Signed Message:\\n" ‖ len ‖ message); tickets sign their 32-byte hash.
"""

from __future__ import annotations

import coincurve

from lpengine.pm import address
from lpengine.pm.keccak import keccak256

SIGNATURE_BYTES = 65
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N_BYTES = (SECP256K1_N // 2).to_bytes(32, "big")
"""s above this is refused; comparing 32-byte big-endian strings compares the numbers."""

PERSONAL_PREFIX_32 = b"\x19Ethereum Signed Message:\n32"


class SignatureError(ValueError):
    """A signature go-livepeer would refuse; the message is go's."""


def personal_digest(message: bytes) -> bytes:
    """The EIP-191 digest that is actually signed: 32 bytes."""
    return keccak256(b"\x19Ethereum Signed Message:\n%d" % len(message) + message)


def check_form(sig: bytes) -> None:
    """Length, low-S and v rules, in go's order, before any curve arithmetic."""
    if len(sig) != SIGNATURE_BYTES:
        raise SignatureError("invalid signature length")
    if sig[32:64] > HALF_N_BYTES:
        raise SignatureError("signature s value too high")
    if sig[64] not in (27, 28):
        raise SignatureError("signature v value must be 27 or 28")


def recover_public_key(digest: bytes, sig: bytes) -> bytes:
    """The uncompressed key (65 bytes) that signed `digest` (32 bytes, already EIP-191 hashed)."""
    check_form(sig)
    try:
        key = coincurve.PublicKey.from_signature_and_message(
            sig[:64] + bytes((sig[64] - 27,)), digest, hasher=None
        )
    except ValueError as e:  # r or s out of range, or no point for r
        raise SignatureError(str(e)) from None
    return key.format(compressed=False)


def recover(message: bytes, sig: bytes) -> bytes:
    """The address that signed `message` with EIP-191."""
    return address.from_public_key(recover_public_key(personal_digest(message), sig))


def verify(signer: bytes, message: bytes, sig: bytes) -> bool:
    """go's `VerifySig`: True iff `sig` is a valid EIP-191 signature of `message` by `signer`."""
    try:
        return recover(message, sig) == signer
    except SignatureError:
        return False


class Signer:
    """An ETH account key that signs the way go-livepeer's `eth.Client.Sign` does."""

    def __init__(self, private_key: bytes) -> None:
        if len(private_key) != 32:
            raise ValueError(f"private_key: expected 32 bytes, got {len(private_key)}")
        self._key = coincurve.PrivateKey(private_key)
        self.address = address.from_public_key(self._key.public_key.format(compressed=False))

    def sign_digest(self, digest: bytes) -> bytes:
        """r ‖ s ‖ v over a 32-byte digest that is signed as is; s is always low (RFC 6979)."""
        raw = self._key.sign_recoverable(digest, hasher=None)
        return raw[:64] + bytes((raw[64] + 27,))

    def sign(self, message: bytes) -> bytes:
        """EIP-191 personal signature of `message` (65 bytes, v in {27, 28})."""
        return self.sign_digest(personal_digest(message))
