"""The ticketQueue table: go's columns and encodings, order, redemption marks."""

from __future__ import annotations

import sqlite3

from lpengine.pm import PaymentReceiver
from lpengine.pm.address import checksum
from lpengine.pm.recipient_rand import rand_hash
from tests.pm.conftest import PRICE
from tests.pm.gateway import Gateway

KEY = "s"


def test_rows_are_go_rows(winning_receiver: PaymentReceiver, gateway: Gateway) -> None:
    r = winning_receiver
    params = r.ticket_params(gateway.address, PRICE.as_fraction())
    payment = gateway.pay(params, [5], PRICE)
    assert r.process_payment(payment, KEY).winning_tickets == 1
    db = sqlite3.connect(r.store.path)
    db.row_factory = sqlite3.Row
    row = dict(db.execute("SELECT * FROM ticketQueue").fetchone())
    exp = params.expiration_params
    assert exp is not None
    assert row["sender"] == checksum(gateway.address)
    assert row["recipient"] == checksum(r.recipient)
    assert row["faceValue"] == params.face_value.to_bytes(5, "big")  # 8e9: minimal bytes
    assert row["winProb"] == b"\xff" * 32
    assert row["senderNonce"] == 5
    assert row["recipientRandHash"] == "0x" + params.recipient_rand_hash.hex()
    assert row["sig"] == payment.ticket_sender_params[0].sig
    assert row["creationRound"] == exp.creation_round
    assert row["creationRoundBlockHash"] == "0x" + exp.creation_round_block_hash.hex()
    assert row["paramsExpirationBlock"] == params.expiration_block
    assert row["redeemedAt"] is None and row["txHash"] is None and row["createdAt"]
    # The stored rand is the preimage of the hash: what redemption reveals.
    (stored,) = r.queue.all()
    assert stored.ticket == gateway.ticket(params, 5)
    assert rand_hash(stored.recipient_rand) == params.recipient_rand_hash


def test_pending_order_and_marks(winning_receiver: PaymentReceiver, gateway: Gateway) -> None:
    r = winning_receiver
    params = r.ticket_params(gateway.address, PRICE.as_fraction())
    r.process_payment(gateway.pay(params, [3, 1, 2], PRICE), KEY)
    exp = params.expiration_params
    assert exp is not None
    pending = r.queue.pending(gateway.address, exp.creation_round)
    assert [t.ticket.sender_nonce for t in pending] == [3, 1, 2]  # arrival order
    assert r.queue.pending(gateway.address, exp.creation_round + 1) == []
    assert r.queue.count(gateway.address, exp.creation_round) == 3
    assert r.queue.senders() == [gateway.address]
    r.queue.mark_redeemed(pending[0].sig, b"\xaa" * 32)
    r.queue.mark_redeemed(pending[1].sig, None)  # failed for good: no tx
    assert [t.ticket.sender_nonce for t in r.queue.pending(gateway.address, 0)] == [2]
    assert len(r.queue.all()) == 3
