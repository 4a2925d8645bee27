"""The per-ticket work of a payment: ticket hash, signature, winning check (protocol.md §7.4-7.5).

This is the hot path, so it does only what differs per ticket. Per payment, the tickets share
everything but the nonce and the signature: the caller passes the 104-byte hash prefix
(recipient ‖ sender ‖ faceValue ‖ winProb) and the suffix (recipientRandHash ‖ auxData) once.
Across payments, recipientRand is cached per HMAC input (a gateway reuses its params for many
payments; the receiver also keeps the prefix and suffix per params), and each sender's public
key once it has recovered to the sender's address: a later key is compared to it with
libsecp256k1's own comparison, which saves serializing the key and a keccak per ticket. Per
ticket that leaves libsecp256k1's recover and three keccaks: ticket hash, EIP-191 digest,
winning check. libsecp256k1 is called through coincurve's cffi bindings directly (parse, recover,
compare), not through its Python wrappers, whose checks and objects cost ~5% of a recover.
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


def _bindings() -> tuple[Any, Any] | None:
    """coincurve's cffi bindings to libsecp256k1 (lib, ffi): the hot loop calls the C functions
    itself, which saves coincurve's wrappers (argument checks, slicing, a PublicKey) per ticket."""
    try:
        from coincurve._libsecp256k1 import (  # type: ignore[import-not-found,unused-ignore]
            ffi,
            lib,
        )
    except ImportError:  # pragma: no cover
        return None
    needed = (
        "secp256k1_ecdsa_recoverable_signature_parse_compact",
        "secp256k1_ecdsa_recover",
        "secp256k1_ec_pubkey_cmp",
    )
    if not all(hasattr(lib, name) for name in needed):  # pragma: no cover
        return None
    return lib, ffi


_BINDINGS = _bindings()
_CONTEXT = GLOBAL_CONTEXT.ctx


TicketCheck = Callable[[bytes, bytes, bytes, bytes, bytes, int, bytes], int]
"""check_ticket(prefix, suffix, sender, rand32, win_prob32, nonce, sig) -> code."""


class PaymentValidator:
    """Thread-safe: the caches are plain dicts whose worst race is a miss."""

    def __init__(self, secret: bytes, *, cache_entries: int = 4096) -> None:
        self._secret = secret
        self._cache_entries = cache_entries
        self._rands: dict[Hashable, bytes] = {}
        self._public_keys: dict[bytes, Any] = {}  # sender -> its recovered key (C struct)
        self.check_ticket: TicketCheck = (
            _ticket_check(self._public_keys, cache_entries)
            if _BINDINGS is not None
            else _ticket_check_coincurve(self._public_keys, cache_entries)
        )
        """One ticket's code: INVALID_SIGNATURE, VALID, WINNING or NONCE_OUT_OF_RANGE.

        prefix: recipient ‖ sender ‖ pad32(faceValue) ‖ pad32(winProb), 104 bytes;
        suffix: recipientRandHash ‖ auxData, 32 or 96 bytes; rand32: pad32(recipientRand);
        win_prob32: pad32(winProb)."""

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
        """`check_ticket`'s code for each ticket, in order."""
        check = self.check_ticket
        return [
            check(prefix, suffix, sender, rand32, win_prob32, t.sender_nonce, t.sig)
            for t in tickets
        ]


def _ticket_check(public_keys: dict[bytes, Any], limit: int) -> TicketCheck:
    """check_ticket on libsecp256k1's C functions, everything it uses bound in its closure."""
    assert _BINDINGS is not None
    lib, ffi = _BINDINGS
    keccak, half_n, personal = keccak_256, HALF_N_BYTES, PERSONAL_PREFIX_32
    new, ctx, get_key = ffi.new, _CONTEXT, public_keys.get
    sig_type = ffi.typeof("secp256k1_ecdsa_recoverable_signature *")
    key_type = ffi.typeof("secp256k1_pubkey *")
    parse = lib.secp256k1_ecdsa_recoverable_signature_parse_compact
    recover = lib.secp256k1_ecdsa_recover
    cmp = lib.secp256k1_ec_pubkey_cmp

    def check_ticket(
        prefix: bytes,
        suffix: bytes,
        sender: bytes,
        rand32: bytes,
        win_prob32: bytes,
        nonce: int,
        sig: bytes,
    ) -> int:
        if not 0 <= nonce <= _MAX_NONCE:
            return NONCE_OUT_OF_RANGE
        # go's rules before any curve work: 65 bytes, low S, v in {27, 28}.
        if len(sig) != 65 or sig[32:64] > half_n:
            return INVALID_SIGNATURE
        recovery_id = sig[64] - 27
        if recovery_id != 0 and recovery_id != 1:
            return INVALID_SIGNATURE
        if type(sig) is not bytes:
            sig = bytes(sig)  # C takes bytes only
        ticket_hash = keccak(prefix + nonce.to_bytes(32, "big") + suffix).digest()
        digest = keccak(personal + ticket_hash).digest()
        parsed = new(sig_type)
        if not parse(ctx, parsed, sig, recovery_id):  # r or s out of range
            return INVALID_SIGNATURE
        key = new(key_type)
        if not recover(ctx, key, parsed, digest):
            return INVALID_SIGNATURE
        known_key = get_key(sender)
        if known_key is None or cmp(ctx, key, known_key):
            point = coincurve.PublicKey(key).format(compressed=False)
            if keccak(point[1:]).digest()[12:] != sender:
                return INVALID_SIGNATURE
            _bounded_put(public_keys, sender, key, limit)
        return WINNING if keccak(sig + rand32).digest() < win_prob32 else VALID

    return check_ticket


def _ticket_check_coincurve(
    public_keys: dict[bytes, Any], limit: int
) -> TicketCheck:  # pragma: no cover
    """check_ticket through coincurve's API, where its cffi bindings cannot be imported."""
    keccak = keccak_256
    recover = coincurve.PublicKey.from_signature_and_message

    def check_ticket(
        prefix: bytes,
        suffix: bytes,
        sender: bytes,
        rand32: bytes,
        win_prob32: bytes,
        nonce: int,
        sig: bytes,
    ) -> int:
        if not 0 <= nonce <= _MAX_NONCE:
            return NONCE_OUT_OF_RANGE
        recovery_id = _RECOVERY_ID.get(sig[64]) if len(sig) == 65 else None
        if recovery_id is None or sig[32:64] > HALF_N_BYTES:
            return INVALID_SIGNATURE
        ticket_hash = keccak(prefix + nonce.to_bytes(32, "big") + suffix).digest()
        digest = keccak(PERSONAL_PREFIX_32 + ticket_hash).digest()
        try:
            key = recover(bytes(sig[:64]) + recovery_id, digest, hasher=None)
        except ValueError:
            return INVALID_SIGNATURE
        point = key.format(compressed=False)
        if public_keys.get(sender) != point:
            if keccak(point[1:]).digest()[12:] != sender:
                return INVALID_SIGNATURE
            _bounded_put(public_keys, sender, point, limit)
        return WINNING if keccak(sig + rand32).digest() < win_prob32 else VALID

    return check_ticket


def _bounded_put(cache: dict[Any, Any], key: Hashable, value: object, limit: int) -> None:
    if len(cache) >= limit:
        cache.pop(next(iter(cache)), None)  # oldest first: dicts keep insertion order
    cache[key] = value
