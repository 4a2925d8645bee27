"""A ticket, its expected value and its hash with the TicketBroker's byte layout (protocol.md §7.1).

hash = keccak256(recipient ‖ sender ‖ pad32(faceValue) ‖ pad32(winProb) ‖ pad32(senderNonce) ‖
recipientRandHash ‖ auxData): 168 bytes, or 232 with auxData = pad32(creationRound) ‖ blockHash.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from lpengine.pm.keccak import keccak256

MAX_WIN_PROB = 2**256 - 1
ZERO_HASH = bytes(32)


def minimal_bytes(value: int) -> bytes:
    """go's `big.Int.Bytes()` for a non-negative int: big-endian, no leading zeros, 0 -> b""."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def pad32(value: int) -> bytes:
    """A uint256 as 32 big-endian bytes; OverflowError past 2^256 - 1 or below 0."""
    return value.to_bytes(32, "big")


def aux_data(creation_round: int, creation_round_block_hash: bytes) -> bytes:
    """pad32(round) ‖ blockHash, or b"" when both are zero (go `ExpirationParams.AuxData`)."""
    if creation_round == 0 and creation_round_block_hash == ZERO_HASH:
        return b""
    return pad32(creation_round) + creation_round_block_hash


def expected_value(face_value_wei: int, win_prob: int) -> Fraction:
    """faceValue * winProb / (2^256 - 1), exact, in wei."""
    return Fraction(face_value_wei * win_prob, MAX_WIN_PROB)


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket as the TicketBroker sees it, plus the two off-chain fields bound by the HMAC."""

    recipient: bytes
    sender: bytes
    face_value_wei: int
    win_prob: int
    sender_nonce: int
    recipient_rand_hash: bytes
    creation_round: int = 0
    creation_round_block_hash: bytes = ZERO_HASH
    params_expiration_block: int = 0

    def aux_data(self) -> bytes:
        return aux_data(self.creation_round, self.creation_round_block_hash)

    def flatten(self) -> bytes:
        """The tightly packed bytes that are hashed: 168 or 232 bytes."""
        return (
            self.recipient
            + self.sender
            + pad32(self.face_value_wei)
            + pad32(self.win_prob)
            + pad32(self.sender_nonce)
            + self.recipient_rand_hash
            + self.aux_data()
        )

    def hash(self) -> bytes:
        """The ticket hash the sender signs (EIP-191) and the TicketBroker records as used."""
        return keccak256(self.flatten())

    def ev(self) -> Fraction:
        return expected_value(self.face_value_wei, self.win_prob)


@dataclass(frozen=True, slots=True)
class SignedTicket:
    """A winning ticket with what redemption needs: the signature and the revealed rand."""

    ticket: Ticket
    sig: bytes
    recipient_rand: int
