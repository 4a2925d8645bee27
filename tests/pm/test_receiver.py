"""process_payment end to end: go's order, errors, credit rules, durability, restarts."""

from __future__ import annotations

import sqlite3
from fractions import Fraction

import pytest

from lpengine.pm import (
    InMemoryChain,
    Payment,
    PaymentReceiver,
    TicketParams,
)
from lpengine.pm.address import checksum
from lpengine.pm.ticket import expected_value
from tests.pm.conftest import EV_WEI, PRICE, ReceiverFactory
from tests.pm.gateway import Gateway, with_ticket

KEY = "a1b2c3d4"


def params_for(receiver: PaymentReceiver, gateway: Gateway) -> TicketParams:
    return receiver.ticket_params(gateway.address, PRICE.as_fraction())


def ev(params: TicketParams) -> Fraction:
    return expected_value(params.face_value, params.win_prob)


def test_a_good_payment_credits_every_ticket(receiver: PaymentReceiver, gateway: Gateway) -> None:
    params = params_for(receiver, gateway)
    outcome = receiver.process_payment(gateway.pay(params, [0, 1, 2], PRICE), KEY)
    assert outcome.ok and not outcome.fatal
    assert (outcome.tickets, outcome.credited_tickets) == (3, 3)
    assert outcome.credited_wei == 3 * ev(params) == receiver.balance(gateway.address, KEY)
    assert abs(ev(params) - EV_WEI) < 1  # winProb is rounded up, EV is at least the target
    assert receiver.fixed_price(gateway.address, KEY) == PRICE.as_fraction()
    assert receiver.sufficient_balance(gateway.address, KEY)
    assert not receiver.sufficient_balance(gateway.address, "other")


def test_nonces_may_come_out_of_order(receiver: PaymentReceiver, gateway: Gateway) -> None:
    params = params_for(receiver, gateway)
    assert receiver.process_payment(gateway.pay(params, [7, 3], PRICE), KEY).ok
    assert receiver.process_payment(gateway.pay(params, [5, 0], PRICE), KEY).ok
    assert receiver.balance(gateway.address, KEY) == 4 * ev(params)


def test_a_non_fatal_error_stops_crediting_later_tickets(
    receiver: PaymentReceiver, gateway: Gateway
) -> None:
    params = params_for(receiver, gateway)
    payment = gateway.pay(params, [0, 1, 2, 3], PRICE)
    payment = with_ticket(payment, 1, sig=payment.ticket_sender_params[1].sig[:64] + b"\x1d")
    outcome = receiver.process_payment(payment, KEY)
    assert outcome.error == "invalid ticket signature" and not outcome.fatal
    assert outcome.credited_tickets == 1  # ticket 0 only: 2 and 3 are valid but not credited
    assert receiver.balance(gateway.address, KEY) == ev(params)
    # Tickets 2 and 3 were validated (nonces recorded): resending them is a replay.
    again = receiver.process_payment(gateway.pay(params, [2], PRICE), KEY)
    assert again.error is not None and "already seen" in again.error


def test_the_same_payment_twice_is_refused(receiver: PaymentReceiver, gateway: Gateway) -> None:
    payment = gateway.pay(params_for(receiver, gateway), [0, 1], PRICE)
    assert receiver.process_payment(payment, KEY).ok
    balance = receiver.balance(gateway.address, KEY)
    second = receiver.process_payment(payment, KEY)
    assert second.error == (  # go answers with the last error of the payment
        f"invalid ticket senderNonce: already seen sender={checksum(gateway.address)} nonce=1"
    )
    assert second.credited_tickets == 0 and not second.fatal
    assert receiver.balance(gateway.address, KEY) == balance


def test_the_601st_nonce_is_refused(receiver: PaymentReceiver, gateway: Gateway) -> None:
    params = params_for(receiver, gateway)
    for start in range(0, 600, 100):
        assert receiver.process_payment(
            gateway.pay(params, range(start, start + 100), PRICE), KEY
        ).ok
    outcome = receiver.process_payment(gateway.pay(params, [600], PRICE), KEY)
    assert outcome.error == (
        f"invalid ticket senderNonce: too many values sender={checksum(gateway.address)} nonce=600"
    )
    assert receiver.balance(gateway.address, KEY) == 600 * ev(params)
    # New params, new recipientRand, new nonce set.
    assert receiver.process_payment(
        gateway.pay(params_for(receiver, gateway), [600], PRICE), KEY
    ).ok


def test_expired_params(
    winning_receiver: PaymentReceiver, gateway: Gateway, chain: InMemoryChain
) -> None:
    params = params_for(winning_receiver, gateway)
    assert params.expiration_block == chain.block + 40
    chain.block = params.expiration_block - 1
    assert winning_receiver.process_payment(gateway.pay(params, [0], PRICE), KEY).ok
    chain.block = params.expiration_block
    outcome = winning_receiver.process_payment(gateway.pay(params, [1], PRICE), KEY)
    assert outcome.error == "TicketParams expired" and not outcome.fatal
    assert outcome.credited_tickets == 0
    assert outcome.winning_tickets == 1  # a winner is kept even so (go does too)
    assert len(winning_receiver.queue.all()) == 2


def test_winning_tickets_are_on_disk_when_the_call_returns(
    winning_receiver: PaymentReceiver, gateway: Gateway
) -> None:
    params = params_for(winning_receiver, gateway)
    assert params.win_prob == 2**256 - 1 and params.face_value == EV_WEI
    outcome = winning_receiver.process_payment(gateway.pay(params, [0, 1, 2], PRICE), KEY)
    assert outcome.ok and outcome.winning_tickets == 3
    # A separate connection sees the committed rows at once.
    db = sqlite3.connect(winning_receiver.store.path)
    rows = db.execute("SELECT sender, senderNonce FROM ticketQueue ORDER BY senderNonce").fetchall()
    assert rows == [(checksum(gateway.address), n) for n in range(3)]
    # A replayed winner is refused, credited nothing, and stored once.
    replay = winning_receiver.process_payment(gateway.pay(params, [1], PRICE), KEY)
    assert replay.error is not None and replay.credited_tickets == 0
    assert db.execute("SELECT count(*) FROM ticketQueue").fetchone()[0] == 3


def test_params_and_replay_protection_survive_a_restart(
    open_receiver: ReceiverFactory, gateway: Gateway
) -> None:
    first = open_receiver()
    params = params_for(first, gateway)
    assert first.process_payment(gateway.pay(params, [0, 1], PRICE), KEY).ok
    first.close()
    second = open_receiver()  # same data dir: same secret (go-livepeer #1426 voided these)
    assert second.balance(gateway.address, KEY) == 2 * ev(params)
    assert second.fixed_price(gateway.address, KEY) == PRICE.as_fraction()
    replay = second.process_payment(gateway.pay(params, [1], PRICE), KEY)
    assert replay.error is not None and "already seen" in replay.error
    assert second.process_payment(gateway.pay(params, [2], PRICE), KEY).ok
    assert second.balance(gateway.address, KEY) == 3 * ev(params)


def test_a_secret_derived_from_the_node_key(
    open_receiver: ReceiverFactory, gateway: Gateway, tmp_path: object
) -> None:
    first = open_receiver(node_key=b"\x09" * 32)
    params = params_for(first, gateway)
    first.close()
    second = open_receiver(node_key=b"\x09" * 32)
    assert second.process_payment(gateway.pay(params, [0], PRICE), KEY).ok
    second.close()
    other = open_receiver(node_key=b"\x0a" * 32)
    outcome = other.process_payment(gateway.pay(params, [1], PRICE), KEY)
    assert outcome.error == "invalid recipientRand for ticket recipientRandHash"


def test_debit_at_the_pinned_price(receiver: PaymentReceiver, gateway: Gateway) -> None:
    params = params_for(receiver, gateway)
    receiver.process_payment(gateway.pay(params, [0], PRICE), KEY)
    balance = receiver.debit(gateway.address, KEY, 1000, price=Fraction(10**9))  # pinned wins
    assert balance == ev(params) - 1000 * PRICE.as_fraction()
    with pytest.raises(ValueError, match="no price pinned"):
        receiver.debit(gateway.address, "unpaid", 5)
    assert receiver.debit(gateway.address, "unpaid", 5, price=Fraction(1, 2)) == Fraction(-5, 2)
    with pytest.raises(ValueError, match="units"):
        receiver.debit(gateway.address, KEY, -1)


def test_payment_without_ticket_params_is_free_and_pins_nothing(
    receiver: PaymentReceiver, gateway: Gateway
) -> None:
    outcome = receiver.process_payment(Payment(sender=gateway.address), KEY)
    assert outcome.ok and outcome.credited_wei == 0
    assert receiver.fixed_price(gateway.address, KEY) is None
    assert receiver.process_payment(Payment(), KEY).ok  # the SDK's empty header off-chain


def test_zero_tickets(receiver: PaymentReceiver, gateway: Gateway) -> None:
    outcome = receiver.process_payment(gateway.pay(params_for(receiver, gateway), [], PRICE), KEY)
    assert outcome.ok and outcome.tickets == 0
    assert receiver.balance(gateway.address, KEY) is None


def test_nonce_sets_are_dropped_when_their_params_expire(
    receiver: PaymentReceiver, gateway: Gateway, chain: InMemoryChain
) -> None:
    params = params_for(receiver, gateway)
    receiver.process_payment(gateway.pay(params, [0], PRICE), KEY)
    assert len(receiver._nonces) == 1
    receiver.on_l1_block(params.expiration_block - 1)
    assert len(receiver._nonces) == 1
    receiver.on_l1_block(params.expiration_block)
    assert len(receiver._nonces) == 0


def test_sweep(receiver: PaymentReceiver, gateway: Gateway) -> None:
    receiver.process_payment(gateway.pay(params_for(receiver, gateway), [0], PRICE), KEY)
    assert receiver.sweep() == 0
    receiver.balances._ttl_s = -1.0  # everything is idle now
    assert receiver.sweep() == 1
    assert receiver.balance(gateway.address, KEY) is None
