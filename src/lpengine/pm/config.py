"""Payment settings, with go-livepeer's defaults (protocol.md §7.3, §9)."""

from __future__ import annotations

from dataclasses import dataclass

ARBITRUM_REDEEM_GAS = 1_200_000
L1_REDEEM_GAS = 350_000


@dataclass(frozen=True)
class PaymentConfig:
    ev_wei: int = 8_000_000_000
    """`-ticketEV`: the expected value of one ticket."""
    redeem_gas: int = ARBITRUM_REDEEM_GAS
    tx_cost_multiplier: int = 100
    """faceValue = redeemGas * gasPrice * this."""
    max_face_value_wei: int = 0
    """`-maxFaceValue`: cap on faceValue; 0 = none."""
    params_expiration_blocks: int = 40
    """Ticket params stay valid this many L1 blocks past the last one seen."""
    max_sender_nonces: int = 600
    """Nonces accepted per recipientRand."""
    balance_ttl_s: float = 600.0
    """Balances (and the price they pin) idle this long are swept."""
    commit_linger_s: float = 0.02
    """Credits and nonces without a winning ticket are batched this long before a commit."""

    def __post_init__(self) -> None:
        for name in ("ev_wei", "redeem_gas", "tx_cost_multiplier", "max_face_value_wei"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected >= 0, got {getattr(self, name)}")
        if self.params_expiration_blocks < 2:
            raise ValueError(
                "params_expiration_blocks: expected >= 2 (gateways refuse params with <= 1 "
                f"block left), got {self.params_expiration_blocks}"
            )
        if self.max_sender_nonces < 1:
            raise ValueError(f"max_sender_nonces: expected >= 1, got {self.max_sender_nonces}")
        if self.balance_ttl_s <= 0 or self.commit_linger_s < 0:
            raise ValueError("balance_ttl_s: expected > 0; commit_linger_s: expected >= 0")
