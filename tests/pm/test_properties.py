"""Properties: any single changed field or byte breaks a payment; a payment is good once."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpengine.pm import Payment, PaymentReceiver, PriceInfo, TicketExpirationParams
from tests.pm.conftest import PRICE
from tests.pm.gateway import Gateway, with_ticket

FIELDS = [
    "recipient", "sender", "face_value", "win_prob", "recipient_rand_hash", "seed",
    "expiration_block", "creation_round", "block_hash", "nonce", "sig", "price",
]  # fmt: skip
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def flip(data: bytes, index: int, mask: int) -> bytes:
    i = index % len(data)
    return data[:i] + bytes((data[i] ^ mask,)) + data[i + 1 :]


def mutate(p: Payment, field: str, index: int, mask: int, delta: int) -> Payment:
    """`p` with exactly one field changed (mask and delta are never zero)."""
    params, exp = p.ticket_params, p.expiration_params
    assert params is not None and exp is not None
    if field == "recipient":
        return replace(
            p, ticket_params=replace(params, recipient=flip(params.recipient, index, mask))
        )
    if field == "sender":
        return replace(p, sender=flip(p.sender, index, mask))
    if field == "recipient_rand_hash":
        changed = flip(params.recipient_rand_hash, index, mask)
        return replace(p, ticket_params=replace(params, recipient_rand_hash=changed))
    if field in ("face_value", "win_prob", "seed", "expiration_block"):
        value = max(getattr(params, field) + delta, 0)
        if value == getattr(params, field):
            value += abs(delta)
        return replace(p, ticket_params=replace(params, **{field: value}))
    if field == "creation_round":
        changed_round = exp.creation_round + delta
        return replace(
            p,
            expiration_params=TicketExpirationParams(changed_round, exp.creation_round_block_hash),
        )
    if field == "block_hash":
        changed = flip(exp.creation_round_block_hash, index, mask)
        return replace(p, expiration_params=TicketExpirationParams(exp.creation_round, changed))
    ticket = p.ticket_sender_params[index % len(p.ticket_sender_params)]
    position = p.ticket_sender_params.index(ticket)
    if field == "nonce":
        nonce = (ticket.sender_nonce + delta) % 2**32
        if nonce == ticket.sender_nonce:
            nonce = (nonce + 1) % 2**32
        return with_ticket(p, position, sender_nonce=nonce)
    if field == "sig":
        return with_ticket(p, position, sig=flip(ticket.sig, index // 7, mask))
    assert field == "price"
    price = PriceInfo(PRICE.price_per_unit + abs(delta), PRICE.pixels_per_unit)
    assert price.as_fraction() != PRICE.as_fraction()
    return replace(p, expected_price=price)


@PROPERTY
@given(
    field=st.sampled_from(FIELDS),
    index=st.integers(0, 10_000),
    mask=st.integers(1, 255),
    delta=st.integers(-5, 5).filter(bool) | st.integers(2**32, 2**300),
    tickets=st.integers(1, 3),
)
def test_any_single_change_is_refused(
    receiver: PaymentReceiver,
    gateway: Gateway,
    field: str,
    index: int,
    mask: int,
    delta: int,
    tickets: int,
) -> None:
    params = receiver.ticket_params(gateway.address, PRICE.as_fraction())
    good = gateway.pay(params, range(tickets), PRICE)
    key = f"k{params.seed}"
    outcome = receiver.process_payment(mutate(good, field, index, mask, delta), key)
    assert not outcome.ok, (field, outcome)
    if field not in ("nonce", "sig"):
        assert outcome.credited_tickets == 0 and receiver.balance(gateway.address, key) is None
    else:  # the other tickets before the broken one are credited, none after
        assert outcome.credited_tickets < tickets
    assert receiver.queue.all() == []


@PROPERTY
@given(nonces=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=5, unique=True))
def test_a_payment_is_good_once(
    receiver: PaymentReceiver, gateway: Gateway, nonces: list[int]
) -> None:
    params = receiver.ticket_params(gateway.address, PRICE.as_fraction())
    payment = gateway.pay(params, nonces, PRICE)
    key = f"k{params.seed}"
    first = receiver.process_payment(payment, key)
    assert first.ok and first.credited_tickets == len(nonces)
    balance = receiver.balance(gateway.address, key)
    second = receiver.process_payment(payment, key)
    assert not second.ok and not second.fatal and second.credited_tickets == 0
    assert second.credited_wei == Fraction(0)
    assert receiver.balance(gateway.address, key) == balance
