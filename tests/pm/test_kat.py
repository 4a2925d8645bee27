"""Known-answer vectors built by an independent path and fed to the receiver.

Independent of the production code: keccak is the pure-Python reference, the signature is
eth_keys' pure-Python ECDSA (NativeECCBackend), the layouts are packed by hand with struct, and
the HMAC is the standard library's. The expected hashes and win/lose outcomes are pinned too.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import struct
from pathlib import Path

import pytest
from eth_keys import KeyAPI
from eth_keys.backends import NativeECCBackend

from lpengine.pm import (
    InMemoryChain,
    Payment,
    PaymentReceiver,
    PriceInfo,
    Ticket,
    TicketExpirationParams,
    TicketParams,
    TicketSenderParams,
)
from lpengine.pm.secret import SECRET_FILE
from tests.pm.conftest import GATEWAY_KEY, ORCH_KEY
from tests.pm.keccak_reference import keccak256_reference as keccak

NATIVE = KeyAPI(NativeECCBackend)
SECRET = bytes.fromhex("9f" * 16 + "03" * 16)
MAX = 2**256 - 1
BLOCK_HASH = bytes.fromhex("7624778dedc75f8b322b9fa1632a610d40b85e106c7d9bf0e743a9ce291b9c6f")


def minimal(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


# (faceValue, winProb, nonce, seed, price, creation round, ticket hash, wins). The hashes and
# outcomes were computed by `independent` below and are pinned against drift on either side.
VECTORS = [
    (8_000_000_000, MAX, 0, 0x5EED, PriceInfo(1200, 3), 7,
     "15263927d26e259fd4c7745ff59230de9e381bb42d780aeadc45e0d77a4748d7", True),
    (8 * 10**11, MAX // 100 + 1, 3, 2**255 + 17, PriceInfo(1, 1), 7,
     "e12aaeb6c7a2190520d021db172e6ddb6582ca5e3630523ba0be750974b4b17f", False),
    # creation round 0 and a zero block hash: no auxData, a 168-byte ticket
    (10**18, 1, 41, 1, PriceInfo(0, 1), 0,
     "3afc751fff6e307fe81f0585072d2e7b237592aa17c4bd7c8dd46ee82dcb5b34", False),
    (123_456_789, MAX // 2, 2**32 - 1, 2**200, PriceInfo(999_999, 1_000_000), 7,
     "da19edbaeca924a211557394b5959e814cb4de96f16523bc8df568b9a2a6bfed", True),
    (5, 0, 9, 42, PriceInfo(5, 7), 7,
     "7cbb0c614883e3e07430ea02deaa7c6856ce7acaa0107839a8669df75d8e38cf", False),
]  # fmt: skip


def independent(
    face_value: int, win_prob: int, nonce: int, seed: int, price: PriceInfo, creation_round: int
) -> tuple[TicketParams, Payment, bytes, bool]:
    """Params, payment, ticket hash and win/lose, computed without lpengine.pm's code."""
    orchestrator = NATIVE.PrivateKey(ORCH_KEY).public_key.to_canonical_address()
    gateway_key = NATIVE.PrivateKey(GATEWAY_KEY)
    sender = gateway_key.public_key.to_canonical_address()
    block_hash = BLOCK_HASH if creation_round else bytes(32)
    aux = struct.pack(">24xQ", creation_round) + block_hash if creation_round else b""
    expiration_block = 1040
    g = math.gcd(price.price_per_unit, price.pixels_per_unit)
    num, den = price.price_per_unit // g, price.pixels_per_unit // g
    message = (
        minimal(seed) + sender + minimal(face_value) + minimal(win_prob)
        + minimal(expiration_block) + minimal(num) + minimal(den) + aux
    )  # fmt: skip
    rand32 = hmac.new(SECRET, message, hashlib.sha256).digest()
    rand_hash = keccak(rand32)
    layout = (
        orchestrator + sender + face_value.to_bytes(32, "big") + win_prob.to_bytes(32, "big")
        + struct.pack(">28xI", nonce) + rand_hash + aux
    )  # fmt: skip
    ticket_hash = keccak(layout)
    digest = keccak(b"\x19Ethereum Signed Message:\n32" + ticket_hash)
    vrs = gateway_key.sign_msg_hash(digest).to_bytes()
    sig = vrs[:64] + bytes((vrs[64] + 27,))
    wins = int.from_bytes(keccak(sig + rand32), "big") < win_prob
    expiration = TicketExpirationParams(creation_round, block_hash)
    params = TicketParams(
        orchestrator, face_value, win_prob, rand_hash, seed, expiration_block, expiration
    )
    payment = Payment(params, sender, expiration, (TicketSenderParams(nonce, sig),), price)
    return params, payment, ticket_hash, wins


@pytest.mark.parametrize("vector", VECTORS, ids=[f"v{i}" for i in range(len(VECTORS))])
def test_receiver_agrees_with_the_independent_path(
    vector: tuple[object, ...], tmp_path: Path
) -> None:
    face_value, win_prob, nonce, seed, price, creation_round, _, pinned_win = vector
    params, payment, ticket_hash, wins = independent(
        face_value,
        win_prob,
        nonce,
        seed,
        price,
        creation_round,  # type: ignore[arg-type]
    )
    if pinned_win is not None:
        assert wins is pinned_win
    (tmp_path / SECRET_FILE).write_bytes(SECRET)
    chain = InMemoryChain(block=1000, round_number=creation_round or 1)  # type: ignore[arg-type]
    chain.fund(payment.sender, 10**20, 10**20)
    receiver = PaymentReceiver.open(tmp_path, recipient=params.recipient, chain=chain)
    try:
        exp = params.expiration_params
        assert exp is not None
        ours = Ticket(
            params.recipient, payment.sender, params.face_value, params.win_prob, nonce,
            params.recipient_rand_hash, exp.creation_round, exp.creation_round_block_hash,
        )  # fmt: skip
        assert ours.hash() == ticket_hash
        outcome = receiver.process_payment(payment, "kat")
        assert outcome.ok, outcome.error
        assert outcome.credited_tickets == 1
        assert outcome.winning_tickets == int(wins)
        assert len(receiver.queue.all()) == int(wins)
    finally:
        receiver.close()


def test_vectors_cover_both_outcomes() -> None:
    outcomes = {independent(*v[:6])[3] for v in VECTORS}  # type: ignore[arg-type]
    assert outcomes == {True, False}
