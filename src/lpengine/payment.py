"""The plain forms of what gateways send with paid calls: Payment and segment credentials.

`serve/` decodes the `Livepeer-Payment` and `Livepeer-Segment` headers into these; the engine
checks them (`Engine.check_segment_credentials`) and hands payments to `Engine.process_payment`,
the seam where the payments module (`lpengine.pm`) plugs in. Big integers are Python ints here
(the wire carries them as minimal big-endian bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

from lpengine.auth_token import AuthToken
from lpengine.capabilities import CapabilitySet
from lpengine.pricing import PriceInfo

MAX_SEGMENT_DURATION_MS = 300_000


@dataclass(frozen=True)
class TicketExpirationParams:
    creation_round: int = 0
    creation_round_block_hash: bytes = b""


@dataclass(frozen=True)
class TicketParams:
    recipient: bytes = b""
    face_value: int = 0  # wei
    win_prob: int = 0  # numerator over 2**256 - 1
    recipient_rand_hash: bytes = b""
    seed: int = 0
    expiration_block: int = 0
    expiration_params: TicketExpirationParams | None = None


@dataclass(frozen=True)
class TicketSenderParams:
    sender_nonce: int
    sig: bytes


@dataclass(frozen=True)
class Payment:
    """A gateway's tickets; the SDK sends an empty one off-chain (an empty header)."""

    ticket_params: TicketParams | None = None
    sender: bytes = b""
    expiration_params: TicketExpirationParams | None = None
    ticket_sender_params: tuple[TicketSenderParams, ...] = ()
    expected_price: PriceInfo | None = None

    @property
    def is_empty(self) -> bool:
        """No tickets: nothing to credit (go skips a payment without ticket params too)."""
        return self.ticket_params is None and not self.ticket_sender_params


@dataclass(frozen=True)
class SegmentCredentials:
    """The parts of `net.SegData` (header Livepeer-Segment) that authorize a call."""

    manifest_id: bytes = b""
    seq: int = 0
    hash: bytes = b""
    sig: bytes = b""
    duration_ms: int = 0
    capabilities: CapabilitySet | None = None  # absent: no requirements
    auth_token: AuthToken | None = None
    calc_perceptual_hash: bool = False


class CredentialsError(Exception):
    """Segment credentials refused (HTTP 403); the message is go-livepeer's error text."""


class PaymentError(Exception):
    """A payment refused (HTTP 400); the message says why."""
