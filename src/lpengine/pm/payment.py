"""The payment messages as plain data, field for field with `net.Payment` (protocol.md §2.3).

The receiver reads payments through the read-only Protocols below, so any plain form with these
field names works as is: the dataclasses here, or the engine's `lpengine.payment` ones that the
wire layer fills. Big integers are Python ints (minimal big-endian bytes on the wire); addresses
and hashes are the raw bytes received.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol


class PriceLike(Protocol):
    @property
    def price_per_unit(self) -> int: ...
    @property
    def pixels_per_unit(self) -> int: ...


class ExpirationParamsLike(Protocol):
    @property
    def creation_round(self) -> int: ...
    @property
    def creation_round_block_hash(self) -> bytes: ...


class TicketParamsLike(Protocol):
    @property
    def recipient(self) -> bytes: ...
    @property
    def face_value(self) -> int: ...
    @property
    def win_prob(self) -> int: ...
    @property
    def recipient_rand_hash(self) -> bytes: ...
    @property
    def seed(self) -> int: ...
    @property
    def expiration_block(self) -> int: ...


class SenderParamsLike(Protocol):
    @property
    def sender_nonce(self) -> int: ...
    @property
    def sig(self) -> bytes: ...


class PaymentLike(Protocol):
    @property
    def ticket_params(self) -> TicketParamsLike | None: ...
    @property
    def sender(self) -> bytes: ...
    @property
    def expiration_params(self) -> ExpirationParamsLike | None: ...
    @property
    def ticket_sender_params(self) -> Sequence[SenderParamsLike]: ...
    @property
    def expected_price(self) -> PriceLike | None: ...


@dataclass(frozen=True, slots=True)
class PriceInfo:
    """pricePerUnit wei per pixelsPerUnit units (both int64 on the wire)."""

    price_per_unit: int
    pixels_per_unit: int = 1

    def as_fraction(self) -> Fraction:
        """The exact price per unit; raises ZeroDivisionError when pixels_per_unit is 0."""
        return Fraction(self.price_per_unit, self.pixels_per_unit)


@dataclass(frozen=True, slots=True)
class TicketExpirationParams:
    creation_round: int = 0
    creation_round_block_hash: bytes = b""


@dataclass(frozen=True, slots=True)
class TicketParams:
    """What the orchestrator hands a sender; shared by every ticket of a payment."""

    recipient: bytes
    face_value: int
    """wei"""
    win_prob: int
    """numerator over 2^256 - 1"""
    recipient_rand_hash: bytes
    seed: int
    expiration_block: int
    expiration_params: TicketExpirationParams | None = None


@dataclass(frozen=True, slots=True)
class TicketSenderParams:
    """One ticket of a payment: its nonce (uint32) and the sender's 65-byte signature."""

    sender_nonce: int
    sig: bytes


@dataclass(frozen=True, slots=True)
class Payment:
    """`Livepeer-Payment`: N tickets that share params, sender and expiration params."""

    ticket_params: TicketParams | None = None
    sender: bytes = b""
    expiration_params: TicketExpirationParams | None = None
    ticket_sender_params: tuple[TicketSenderParams, ...] = field(default=())
    expected_price: PriceInfo | None = None
