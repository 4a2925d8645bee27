"""The per-ticket work of a payment: ticket hash, signature, winning check (protocol.md §7.4-7.5).

This is the hot path, so it does only what differs per ticket. Per payment, the tickets share
everything but the nonce and the signature: the caller passes the 104-byte hash prefix
(recipient ‖ sender ‖ faceValue ‖ winProb) and the suffix (recipientRandHash ‖ auxData) once.
Across payments, recipientRand is cached per HMAC input (a gateway reuses its params for many
payments; the receiver also keeps the prefix and suffix per params), and each sender's public
key once it has recovered to the sender's address: a later key is compared to it with
libsecp256k1's own comparison, which saves serializing the key and a keccak per ticket. Per
ticket that leaves libsecp256k1's recover and three keccaks: ticket hash, EIP-191 digest,
winning check.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import coincurve
from coincurve.context import GLOBAL_CONTEXT

from lpengine.pm.keccak import keccak_256
from lpengine.pm.payment import SenderParamsLike
from lpengine.pm.signature import HALF_N_BYTES, PERSONAL_PREFIX_32

# NOTE: ordered: a code >= VALID means the signature is good.
INVALID_SIGNATURE = 0
NONCE_OUT_OF_RANGE = 1
VALID = 2
WINNING = 3

_MAX_NONCE = 0xFFFFFFFF
_RECOVERY_ID = {27: b"\x00", 28: b"\x01"}


def _pubkey_cmp() -> Callable[[Any, Any, Any], int] | None:
    """libsecp256k1's `secp256k1_ec_pubkey_cmp` (0: the same point), through coincurve's
    bindings; one C call where serializing a key to compare costs a few allocations."""
    try:
        from coincurve._libsecp256k1 import lib  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover
        return None
    return getattr(lib, "secp256k1_ec_pubkey_cmp", None)


_PUBKEY_CMP = _pubkey_cmp()
_CONTEXT = GLOBAL_CONTEXT.ctx


class PaymentValidator:
    """Thread-safe: the caches are plain dicts whose worst race is a miss."""

    def __init__(self, secret: bytes, *, cache_entries: int = 4096) -> None:
        self._secret = secret
        self._cache_entries = cache_entries
        self._rands: dict[Hashable, bytes] = {}
        self._public_keys: dict[bytes, coincurve.PublicKey] = {}

    def recipient_rand(
        self, key: Hashable, message: Callable[[], bytes], rand_hash: bytes
    ) -> bytes | None:
        """pad32(recipientRand) if keccak256 of it is `rand_hash`, else None.

        key: anything that determines the HMAC input (the ints it is made of hash faster than
        the bytes cost to build); message: builds that input on a cache miss.
        """
        cache_key = (key, rand_hash)
        rand32 = self._rands.get(cache_key)
        if rand32 is not None:
            return rand32
        rand32 = hmac.digest(self._secret, message(), "sha256")
        if keccak_256(rand32).digest() != rand_hash:
            return None  # NOTE: never cache misses: an attacker could flush the cache with them
        _bounded_put(self._rands, cache_key, rand32, self._cache_entries)
        return rand32

    def check_tickets(
        self,
        prefix: bytes,
        suffix: bytes,
        sender: bytes,
        rand32: bytes,
        win_prob32: bytes,
        tickets: Sequence[SenderParamsLike],
    ) -> list[int]:
        """One code per ticket: INVALID_SIGNATURE, VALID, WINNING or NONCE_OUT_OF_RANGE.

        prefix: recipient ‖ sender ‖ pad32(faceValue) ‖ pad32(winProb), 104 bytes;
        suffix: recipientRandHash ‖ auxData, 32 or 96 bytes; rand32: pad32(recipientRand);
        win_prob32: pad32(winProb).
        """
        keccak = keccak_256
        recover = coincurve.PublicKey.from_signature_and_message
        cmp, ctx = _PUBKEY_CMP, _CONTEXT
        known_key = self._public_keys.get(sender)
        codes: list[int] = []
        append = codes.append
        for params in tickets:
            nonce, sig = params.sender_nonce, params.sig
            if not 0 <= nonce <= _MAX_NONCE:
                append(NONCE_OUT_OF_RANGE)
                continue
            # go's rules before any curve work: 65 bytes, low S, v in {27, 28}.
            recovery_id = _RECOVERY_ID.get(sig[64]) if len(sig) == 65 else None
            if recovery_id is None or sig[32:64] > HALF_N_BYTES:
                append(INVALID_SIGNATURE)
                continue
            ticket_hash = keccak(prefix + nonce.to_bytes(32, "big") + suffix).digest()
            digest = keccak(PERSONAL_PREFIX_32 + ticket_hash).digest()
            try:
                key = recover(sig[:64] + recovery_id, digest, hasher=None)
            except ValueError:
                append(INVALID_SIGNATURE)
                continue
            if known_key is None or (
                cmp(ctx, key.public_key, known_key.public_key)
                if cmp is not None
                else key.format(compressed=False) != known_key.format(compressed=False)
            ):
                if keccak(key.format(compressed=False)[1:]).digest()[12:] != sender:
                    append(INVALID_SIGNATURE)
                    continue
                known_key = key
                _bounded_put(self._public_keys, sender, key, self._cache_entries)
            append(WINNING if keccak(sig + rand32).digest() < win_prob32 else VALID)
        return codes


def _bounded_put(cache: dict[Any, Any], key: Hashable, value: object, limit: int) -> None:
    if len(cache) >= limit:
        cache.pop(next(iter(cache)), None)  # oldest first: dicts keep insertion order
    cache[key] = value
