"""recipientRand: the orchestrator's per-params secret, recomputed statelessly (protocol.md §7.2).

rand = HMAC-SHA256(secret, seed ‖ sender ‖ faceValue ‖ winProb ‖ expirationBlock ‖ priceNum ‖
priceDenom ‖ auxData) with every integer minimal big-endian and the price in lowest terms. The
price and expiration block are inside the MAC, so a sender can neither change the price it pays
nor stretch the params' validity. The secret itself lives in `secret.py`.
"""

from __future__ import annotations

import hmac
from fractions import Fraction

from lpengine.pm.keccak import keccak256
from lpengine.pm.ticket import minimal_bytes, pad32


def rand_message(
    seed: int,
    sender: bytes,
    face_value_wei: int,
    win_prob: int,
    expiration_block: int,
    price: Fraction,
    aux_data: bytes,
) -> bytes:
    """The bytes that are MACed. Fraction is always reduced, as go's big.Rat is; 0 is 0/1."""
    return b"".join(
        (
            minimal_bytes(seed),
            sender,
            minimal_bytes(face_value_wei),
            minimal_bytes(win_prob),
            minimal_bytes(expiration_block),
            minimal_bytes(abs(price.numerator)),  # NOTE: go's Num().Bytes() drops the sign
            minimal_bytes(price.denominator),
            aux_data,
        )
    )


def recipient_rand(secret: bytes, message: bytes) -> int:
    """uint256 of HMAC-SHA256(secret, message)."""
    return int.from_bytes(hmac.digest(secret, message, "sha256"), "big")


def rand_hash(rand: int) -> bytes:
    """recipientRandHash = keccak256(pad32(recipientRand))."""
    return keccak256(pad32(rand))
