"""A test gateway: turns the orchestrator's TicketParams into signed Payments, as go's
sender does (pm/sender.go), with lpengine's signer or an independent one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from lpengine.pm import Payment, PriceInfo, Signer, Ticket, TicketParams, TicketSenderParams
from lpengine.pm.address import to_hash32

SignFn = Callable[[bytes], bytes]
"""Signs a 32-byte ticket hash the EIP-191 way: 65 bytes, v in {27, 28}."""


class Gateway:
    def __init__(self, private_key: bytes, sign: SignFn | None = None) -> None:
        self.signer = Signer(private_key)
        self.address = self.signer.address
        self._sign = sign or self.signer.sign

    def ticket(self, params: TicketParams, nonce: int) -> Ticket:
        exp = params.expiration_params
        assert exp is not None
        return Ticket(
            recipient=params.recipient,
            sender=self.address,
            face_value_wei=params.face_value,
            win_prob=params.win_prob,
            sender_nonce=nonce,
            recipient_rand_hash=params.recipient_rand_hash,
            creation_round=exp.creation_round,
            creation_round_block_hash=to_hash32(exp.creation_round_block_hash),
            params_expiration_block=params.expiration_block,
        )

    def pay(self, params: TicketParams, nonces: Iterable[int], price: PriceInfo) -> Payment:
        senders = tuple(
            TicketSenderParams(n, self._sign(self.ticket(params, n).hash())) for n in nonces
        )
        return Payment(params, self.address, params.expiration_params, senders, price)


def with_ticket(payment: Payment, index: int, **changes: object) -> Payment:
    """The payment with one ticket's nonce or sig replaced."""
    tickets = list(payment.ticket_sender_params)
    tickets[index] = replace(tickets[index], **changes)  # type: ignore[arg-type]
    return replace(payment, ticket_sender_params=tuple(tickets))
