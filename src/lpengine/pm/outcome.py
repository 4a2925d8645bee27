"""What a payment comes to, worked out against one set of ticket params (protocol.md §7.4).

`PaymentOutcome` is what `PaymentReceiver.process_payment` answers. `SharedParams` holds what
every ticket paid with the same params shares once the receiver has checked them, with the
outcomes it keeps handing back; `judge` applies go's `ReceiveTicket` rules ticket by ticket when
a payment is not the common case (a bad signature, a nonce seen, params expired, a win).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from lpengine.pm import errors, nonces, validator
from lpengine.pm.payment import SenderParamsLike
from lpengine.pm.ticket import SignedTicket, Ticket, aux_data, expected_value, pad32


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    """What a payment did. `error` is go's message (the HTTP 400 body) or None when accepted."""

    tickets: int = 0
    credited_tickets: int = 0
    credited_wei: Fraction = field(default_factory=Fraction)
    winning_tickets: int = 0
    error: str | None = None
    fatal: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class SharedParams:
    """What every ticket paid with one set of params shares, worked out once.

    Built when a payment passed the checks that depend on nothing but its params, sender and
    price (recipient, sender, recipientRand); a payment that brings the same ones again skips
    them. Immutable but for its caches of results (a race costs a recomputation).
    """

    __slots__ = (
        "_accepted",
        "_credits",
        "accepted_one",
        "block_hash",
        "creation_round",
        "ev",
        "ev_num",
        "expiration_block",
        "face_value",
        "prefix",
        "price",
        "rand32",
        "rand_hash",
        "recipient",
        "sender",
        "suffix",
        "win_prob",
        "win_prob32",
    )  # fmt: skip

    def __init__(
        self,
        *,
        sender: bytes,
        recipient: bytes,
        face_value: int,
        win_prob: int,
        expiration_block: int,
        creation_round: int,
        block_hash: bytes,
        rand_hash: bytes,
        rand32: bytes,
        price: Fraction,
    ) -> None:
        self.sender, self.recipient = sender, recipient
        self.face_value, self.win_prob = face_value, win_prob
        self.win_prob32 = pad32(win_prob)
        self.expiration_block, self.creation_round = expiration_block, creation_round
        self.block_hash, self.rand_hash, self.rand32 = block_hash, rand_hash, rand32
        self.price = price
        self.prefix = recipient + sender + pad32(face_value) + self.win_prob32
        """The ticket hash's bytes before the nonce: recipient, sender, faceValue, winProb."""
        self.suffix = rand_hash + aux_data(creation_round, block_hash)
        """The ticket hash's bytes after the nonce: recipientRandHash ‖ auxData."""
        self.ev_num = face_value * win_prob
        """A ticket's EV is ev_num / (2^256 - 1) wei, exactly."""
        self.ev = expected_value(face_value, win_prob)
        self._credits: dict[int, Fraction] = {1: self.ev}
        self._accepted: dict[int, PaymentOutcome] = {}
        self.accepted_one = PaymentOutcome(1, 1, self.ev, 0, None, False)
        """The outcome of a payment of one ticket, credited and not winning (the common one)."""

    def credit(self, tickets: int) -> Fraction:
        """The EV of `tickets` tickets."""
        credit = self._credits.get(tickets)
        if credit is None:
            credit = self.ev * tickets
            if len(self._credits) < 64:
                self._credits[tickets] = credit
        return credit

    def accepted(self, tickets: int) -> PaymentOutcome:
        """The outcome of a payment whose `tickets` tickets were all credited and none won."""
        outcome = self._accepted.get(tickets)
        if outcome is None:
            outcome = PaymentOutcome(tickets, tickets, self.credit(tickets), 0, None, False)
            if len(self._accepted) < 64:
                self._accepted[tickets] = outcome
        return outcome

    def winner(self, ticket: SenderParamsLike) -> SignedTicket:
        fields = Ticket(
            self.recipient, self.sender, self.face_value, self.win_prob, ticket.sender_nonce,
            self.rand_hash, self.creation_round, self.block_hash, self.expiration_block,
        )  # fmt: skip
        return SignedTicket(fields, ticket.sig, int.from_bytes(self.rand32, "big"))


def judge(
    shared: SharedParams,
    tickets: Sequence[SenderParamsLike],
    codes: list[int],
    seen_codes: Iterator[int],
    last_block: int,
) -> tuple[int, str | None, list[SignedTicket]]:
    """go's rules ticket by ticket: (tickets credited, last error, winning tickets).

    seen_codes: NonceSets.record's codes for the tickets with a good signature."""
    sender, expiration_block = shared.sender, shared.expiration_block
    error: str | None = None
    credited = 0
    winners: list[SignedTicket] = []
    for ticket, code in zip(tickets, codes, strict=True):
        if code < validator.VALID:
            if code == validator.NONCE_OUT_OF_RANGE:
                error = errors.nonce_out_of_range(sender, ticket.sender_nonce)
            else:
                error = errors.INVALID_SIGNATURE
            continue
        seen = next(seen_codes)
        if seen == nonces.SEEN:
            error = errors.nonce_seen(sender, ticket.sender_nonce)
        elif seen == nonces.TOO_MANY:
            error = errors.nonce_too_many(sender, ticket.sender_nonce)
        elif expiration_block <= last_block:
            error = errors.PARAMS_EXPIRED
        if error is None:
            credited += 1
        if code == validator.WINNING:  # queued even when the nonce or expiry failed
            winners.append(shared.winner(ticket))
    return credited, error, winners
