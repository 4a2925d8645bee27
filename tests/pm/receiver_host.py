"""A process hosting a PaymentReceiver, fed JSON lines on stdin (the kill -9 test's subject).

    python -m tests.pm.receiver_host DATA_DIR ORCH_KEY_HEX GATEWAY_ADDRESS_HEX

Every ticket wins (faceValue = EV). Requests, one JSON object a line:
  {"op": "params"}            -> {"params": {...}}
  {"op": "pay", "id": N, ...} -> {"id": N, "ok": bool, "won": n, "error": str | null}, written
                                 only after process_payment returned (the "acknowledgement")
  {"op": "dump"}              -> {"sigs": [hex...], "balance": [num, den] | null}
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from lpengine.pm import (
    InMemoryChain,
    Payment,
    PaymentConfig,
    PaymentReceiver,
    PriceInfo,
    Signer,
    TicketExpirationParams,
    TicketParams,
    TicketSenderParams,
)

KEY = "stream"


def params_to_json(p: TicketParams) -> dict[str, Any]:
    assert p.expiration_params is not None
    return {
        "recipient": p.recipient.hex(),
        "face_value": p.face_value,
        "win_prob": p.win_prob,
        "rand_hash": p.recipient_rand_hash.hex(),
        "seed": p.seed,
        "expiration_block": p.expiration_block,
        "round": p.expiration_params.creation_round,
        "block_hash": p.expiration_params.creation_round_block_hash.hex(),
    }


def params_from_json(d: dict[str, Any]) -> TicketParams:
    return TicketParams(
        bytes.fromhex(d["recipient"]),
        d["face_value"],
        d["win_prob"],
        bytes.fromhex(d["rand_hash"]),
        d["seed"],
        d["expiration_block"],
        TicketExpirationParams(d["round"], bytes.fromhex(d["block_hash"])),
    )


def payment_to_json(p: Payment) -> dict[str, Any]:
    assert p.ticket_params is not None and p.expected_price is not None
    return {
        "params": params_to_json(p.ticket_params),
        "sender": p.sender.hex(),
        "tickets": [[t.sender_nonce, t.sig.hex()] for t in p.ticket_sender_params],
        "price": [p.expected_price.price_per_unit, p.expected_price.pixels_per_unit],
    }


def payment_from_json(d: dict[str, Any]) -> Payment:
    params = params_from_json(d["params"])
    tickets = tuple(TicketSenderParams(n, bytes.fromhex(s)) for n, s in d["tickets"])
    return Payment(
        params,
        bytes.fromhex(d["sender"]),
        params.expiration_params,
        tickets,
        PriceInfo(*d["price"]),
    )


def main() -> None:
    data_dir, orch_key, gateway = Path(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3]
    sender = bytes.fromhex(gateway)
    chain = InMemoryChain(block=1000)
    chain.fund(sender, 10**20, 10**20)
    config = PaymentConfig(max_face_value_wei=PaymentConfig().ev_wei)
    receiver = PaymentReceiver.open(
        data_dir, recipient=Signer(orch_key).address, chain=chain, config=config
    )
    out = sys.stdout

    def reply(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    reply({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "params":
            reply(
                {
                    "params": params_to_json(
                        receiver.ticket_params(sender, PriceInfo(1, 1).as_fraction())
                    )
                }
            )
        elif request["op"] == "pay":
            outcome = receiver.process_payment(payment_from_json(request["payment"]), KEY)
            reply(
                {
                    "id": request["id"],
                    "ok": outcome.ok,
                    "won": outcome.winning_tickets,
                    "error": outcome.error,
                }
            )
        elif request["op"] == "dump":
            balance = receiver.balance(sender, KEY)
            sigs = [t.sig.hex() for t in receiver.queue.all()]
            reply(
                {
                    "sigs": sigs,
                    "balance": None
                    if balance is None
                    else [balance.numerator, balance.denominator],
                }
            )
    receiver.close()


if __name__ == "__main__":
    main()
