"""Every field wrong in turn: its error, nothing credited, no crash, the next payment works."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from lpengine.pm import InMemoryChain, Payment, PaymentReceiver, PriceInfo, TicketExpirationParams
from lpengine.pm.address import checksum
from lpengine.pm.signature import SECP256K1_N
from tests.pm.conftest import PRICE
from tests.pm.gateway import Gateway, with_ticket

KEY = "session"
Mutation = Callable[[Payment, InMemoryChain], Payment]


def params_of(p: Payment, **changes: object) -> Payment:
    assert p.ticket_params is not None
    return replace(p, ticket_params=replace(p.ticket_params, **changes))  # type: ignore[arg-type]


def sig_of(p: Payment, sig: bytes) -> Payment:
    return with_ticket(p, 0, sig=sig)


def sig0(p: Payment) -> bytes:
    return p.ticket_sender_params[0].sig


def bump(field: str, delta: int) -> Mutation:
    """Adds `delta` to an integer field of the ticket params."""

    def mutate(p: Payment, chain: InMemoryChain) -> Payment:
        return params_of(p, **{field: getattr(p.ticket_params, field) + delta})

    return mutate


def high_s(p: Payment) -> Payment:
    sig = p.ticket_sender_params[0].sig
    s = SECP256K1_N - int.from_bytes(sig[32:64], "big")
    return sig_of(p, sig[:32] + s.to_bytes(32, "big") + bytes((55 - sig[64],)))


def unlocking(p: Payment, chain: InMemoryChain) -> Payment:
    chain.fund(p.sender, 10**20, 10**20, withdraw_round=chain.round_number + 1)
    return p


def chain_down(p: Payment, chain: InMemoryChain) -> Payment:
    chain.fail_sender_info = "connection refused"
    return p


def inactive(p: Payment, chain: InMemoryChain) -> Payment:
    chain.active = set()
    return p


RAND = "invalid recipientRand for ticket recipientRandHash"
SIG = "invalid ticket signature"
CASES: dict[str, tuple[Mutation, str, bool]] = {
    "recipient": (
        lambda p, c: params_of(p, recipient=b"\x33" * 20),
        "invalid ticket recipient",
        True,
    ),
    "sender 0x0": (lambda p, c: replace(p, sender=bytes(20)), "invalid ticket sender", True),
    "sender empty": (
        lambda p, c: replace(p, sender=b""),
        "Could not find Sender for payment",
        True,
    ),
    "other sender": (lambda p, c: replace(p, sender=b"\x44" * 20), RAND, True),
    "sig 64 bytes": (lambda p, c: sig_of(p, sig0(p)[:64]), SIG, False),
    "sig 66 bytes": (lambda p, c: sig_of(p, sig0(p) + b"\x00"), SIG, False),
    "sig empty": (lambda p, c: sig_of(p, b""), SIG, False),
    "sig high S": (lambda p, c: high_s(p), SIG, False),
    "sig V 0": (lambda p, c: sig_of(p, sig0(p)[:64] + b"\x00"), SIG, False),
    "sig V flipped": (
        lambda p, c: sig_of(p, sig0(p)[:64] + bytes((55 - sig0(p)[64],))),
        SIG,
        False,
    ),
    "sig r zero": (lambda p, c: sig_of(p, bytes(32) + sig0(p)[32:]), SIG, False),
    "nonce changed": (lambda p, c: with_ticket(p, 0, sender_nonce=9), SIG, False),
    "recipientRandHash": (lambda p, c: params_of(p, recipient_rand_hash=b"\x01" * 32), RAND, True),
    "faceValue": (bump("face_value", 1), RAND, True),
    "winProb": (bump("win_prob", -1), RAND, True),
    "seed": (bump("seed", 1), RAND, True),
    "expiration block extended": (bump("expiration_block", 100), RAND, True),
    "creation round": (
        lambda p, c: replace(p, expiration_params=TicketExpirationParams(6, b"\x11" * 32)),
        RAND,
        True,
    ),
    "expiration params missing": (lambda p, c: replace(p, expiration_params=None), RAND, True),
    "expected price mismatch": (
        lambda p, c: replace(p, expected_price=PriceInfo(1199, 3)),
        RAND,
        True,
    ),
    "expected price zero pixels": (
        lambda p, c: replace(p, expected_price=PriceInfo(1200, 0)),
        'invalid expected price sent with payment err="pixels per unit is 0"',
        True,
    ),
    "expected price nil": (
        lambda p, c: replace(p, expected_price=None),
        'invalid expected price sent with payment err="expected price is nil"',
        True,
    ),
    "expected price negative": (
        lambda p, c: replace(p, expected_price=PriceInfo(-1200, -3)),
        'invalid expected price sent with payment err="price is negative"',
        True,
    ),
    "faceValue > 2^256": (lambda p, c: params_of(p, face_value=2**300), RAND, True),
    "winProb > 2^256": (lambda p, c: params_of(p, win_prob=2**256), RAND, True),
    "seed huge": (lambda p, c: params_of(p, seed=2**4096), RAND, True),
    "expiration block > 2^256": (lambda p, c: params_of(p, expiration_block=2**300), RAND, True),
    "creation round > 2^256": (
        lambda p, c: replace(p, expiration_params=TicketExpirationParams(2**300, b"\x11" * 32)),
        RAND,
        True,
    ),
    "creation round negative": (
        lambda p, c: replace(p, expiration_params=TicketExpirationParams(-7, b"\x11" * 32)),
        RAND,
        True,
    ),
    "faceValue negative": (lambda p, c: params_of(p, face_value=-1), RAND, True),
    "nonce > uint32": (lambda p, c: with_ticket(p, 0, sender_nonce=2**32), "out of range", False),
    "nonce negative": (lambda p, c: with_ticket(p, 0, sender_nonce=-1), "out of range", False),
    "sender unlocking": (unlocking, "is set to unlock soon", True),
    "chain unreadable": (chain_down, "could not get sender info for", True),
    "orchestrator inactive": (inactive, "is inactive in round 7, cannot process payments", True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_field(
    case: str, receiver: PaymentReceiver, gateway: Gateway, chain: InMemoryChain
) -> None:
    mutate, error, fatal = CASES[case]
    params = receiver.ticket_params(gateway.address, PRICE.as_fraction())
    good = gateway.pay(params, [0], PRICE)
    outcome = receiver.process_payment(mutate(good, chain), KEY)
    assert outcome.error is not None and error in outcome.error, outcome
    assert outcome.fatal == fatal
    assert outcome.credited_tickets == 0 and outcome.credited_wei == 0
    assert receiver.balance(gateway.address, KEY) is None
    assert receiver.fixed_price(gateway.address, KEY) is None
    assert receiver.queue.all() == []
    # Repair the world; the next good payment goes through.
    chain.fund(gateway.address, 10**20, 10**20)
    chain.fail_sender_info, chain.active = None, None
    fresh = receiver.ticket_params(gateway.address, PRICE.as_fraction())
    assert receiver.process_payment(gateway.pay(fresh, [0], PRICE), KEY).ok


def test_error_names_the_sender_checksummed(receiver: PaymentReceiver, gateway: Gateway) -> None:
    params = receiver.ticket_params(gateway.address, PRICE.as_fraction())
    outcome = receiver.process_payment(
        with_ticket(gateway.pay(params, [0], PRICE), 0, sender_nonce=-1), KEY
    )
    assert outcome.error == (
        f"invalid ticket senderNonce: out of range sender={checksum(gateway.address)} nonce=-1"
    )
