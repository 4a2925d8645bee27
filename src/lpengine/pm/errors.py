"""go-livepeer's payment error strings, which gateways log and some react to (protocol.md §10)."""

from __future__ import annotations

from lpengine.pm import address

INVALID_RECIPIENT = "invalid ticket recipient"
INVALID_SENDER = "invalid ticket sender"
INVALID_RECIPIENT_RAND = "invalid recipientRand for ticket recipientRandHash"
INVALID_SIGNATURE = "invalid ticket signature"
INVALID_CREATION_ROUND = "invalid ticket creation round"
PARAMS_EXPIRED = "TicketParams expired"
INSUFFICIENT_SENDER_RESERVE = "insufficient sender reserve"
INSUFFICIENT_BALANCE = "Insufficient balance"


class PaymentError(Exception):
    """A payment or quote refused with one of go's messages."""


class InsufficientSenderReserve(PaymentError):
    def __init__(self) -> None:
        super().__init__(INSUFFICIENT_SENDER_RESERVE)


def nonce_seen(sender: bytes, nonce: int) -> str:
    return (
        f"invalid ticket senderNonce: already seen sender={address.checksum(sender)} nonce={nonce}"
    )


def nonce_too_many(sender: bytes, nonce: int) -> str:
    return (
        f"invalid ticket senderNonce: too many values sender={address.checksum(sender)} "
        f"nonce={nonce}"
    )


def nonce_out_of_range(sender: bytes, nonce: int) -> str:
    """Not in go (the wire type is uint32); a dataclass built by hand can hold anything."""
    return (
        f"invalid ticket senderNonce: out of range sender={address.checksum(sender)} nonce={nonce}"
    )


def invalid_expected_price(reason: str) -> str:
    """go formats the reason with %q: a double-quoted string."""
    return f'invalid expected price sent with payment err="{reason}"'


def inactive(orchestrator: bytes, round_number: int) -> str:
    return (
        f"orchestrator {address.checksum(orchestrator)} is inactive in round {round_number}, "
        "cannot process payments"
    )


def missing_sender() -> str:
    return "Could not find Sender for payment: sender is empty"
