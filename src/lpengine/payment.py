"""The plain forms of what gateways send with paid calls: Payment and segment credentials.

`serve/` decodes the `Livepeer-Payment` and `Livepeer-Segment` headers into these; the engine
checks them (`Engine.check_segment_credentials`) and takes payments (`Engine.process_payment`,
which hands them to `lpengine.pm` when payments are on). Big integers are Python ints here (the
wire carries them as minimal big-endian bytes). The ticket parts are `lpengine.pm`'s own.
"""

from __future__ import annotations

from dataclasses import dataclass

from lpengine.auth_token import AuthToken
from lpengine.capabilities import CapabilitySet
from lpengine.media.profile import VideoProfile
from lpengine.pm.address import to_hash32
from lpengine.pm.payment import TicketExpirationParams, TicketParams, TicketSenderParams
from lpengine.pricing import PriceInfo

MAX_SEGMENT_DURATION_MS = 300_000

__all__ = [
    "MAX_SEGMENT_DURATION_MS",
    "CredentialsError",
    "InternalError",
    "Payment",
    "PaymentError",
    "SegmentCredentials",
    "TicketExpirationParams",
    "TicketParams",
    "TicketSenderParams",
]


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
    profile_ids: bytes = b""  # 4 bytes per output profile: keccak256(name)[:4]
    profiles: tuple[VideoProfile, ...] = ()  # the renditions wanted (fullProfiles3 > 2 > 1)
    profiles_error: str = ""  # why the wanted profiles cannot be made (then `profiles` is empty)
    clip_from_ms: int = 0  # SegParameters: the part of the segment to transcode (0, 0 = all)
    clip_to_ms: int = 0
    force_reinit: bool = False  # ForceSessionReinit: the stream's timeline starts afresh

    def signed_bytes(self) -> bytes:
        """What the gateway signs (go's `SegTranscodingMetadata.Flatten`, protocol.md §6):
        manifestId ‖ pad32(seq) ‖ hash (32 bytes) ‖ lowercase hex of the profile IDs."""
        seq = abs(self.seq)  # NOTE: go pads big.Int(seq).Bytes(), the magnitude
        return (
            self.manifest_id
            + seq.to_bytes(32, "big")
            + to_hash32(self.hash)
            + self.profile_ids.hex().encode("ascii")
        )


class CredentialsError(Exception):
    """Segment credentials refused (HTTP 403); the message is go-livepeer's error text."""


class PaymentError(Exception):
    """A payment refused (HTTP 400); the message says why."""


class InternalError(Exception):
    """The node could not answer (HTTP 500 `Internal Server Error`, as go); the cause is logged."""
