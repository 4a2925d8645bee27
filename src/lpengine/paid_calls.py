"""What every paid call does before and after its work (protocol.md §4.1-§4.3, §7.6).

The checks on `Livepeer-Segment` credentials, taking a `Livepeer-Payment` into a balance, the
balance check and the debit after the work: one implementation for /payment, /segment, live
and the AI routes, part of `Engine` (a mixin: it uses the engine's billing, discovery, tokens,
sessions, capabilities and metrics).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction

from lpengine.auth_token import AuthToken, AuthTokenError, AuthTokens
from lpengine.billing import Billing
from lpengine.capability_registry import CapabilityRegistry
from lpengine.discovery import Discovery, OrchestratorInfo, QuoteError
from lpengine.live.payments import switch_price_check
from lpengine.metrics import Metrics
from lpengine.payment import (
    MAX_SEGMENT_DURATION_MS,
    CredentialsError,
    InternalError,
    Payment,
    PaymentError,
    SegmentCredentials,
)
from lpengine.pm.address import checksum, to_address
from lpengine.pm.errors import INSUFFICIENT_BALANCE
from lpengine.pm.store import StoreError
from lpengine.pricing import gateway_key
from lpengine.sessions import OrchestratorCapped, Sessions

log = logging.getLogger("lpengine.engine")


class PaidCalls:
    billing: Billing | None
    discovery: Discovery
    tokens: AuthTokens
    sessions: Sessions
    capabilities: CapabilityRegistry
    metrics: Metrics

    def sign(self, message: bytes) -> bytes:
        """The node's signature over keccak256(message) (EIP-191, 65 bytes).

        NOTE: off-chain there is no ETH key and go-livepeer signs with an empty signature
        (protocol.md §6).
        """
        return self.billing.sign(message) if self.billing is not None else b""

    def check_segment_credentials(
        self, creds: SegmentCredentials, sender: bytes = b""
    ) -> AuthToken:
        """The checks every paid call makes on Livepeer-Segment (protocol.md §4.2, steps 2-6);
        `sender` is the payment's, who must have signed the segment when payments are on."""
        if not 0 <= creds.duration_ms <= MAX_SEGMENT_DURATION_MS:
            raise CredentialsError("invalid duration")
        # NOTE: off-chain the signature is not checked (go treats every one as valid there).
        if self.billing is not None and not self.billing.verify_segment(creds, sender):
            raise CredentialsError("ErrSegSig")
        wanted = creds.capabilities
        if wanted is not None and not wanted.compatible_with(self.capabilities.advertised()):
            raise CredentialsError("incompatible capabilities")
        try:
            token = self.tokens.check(creds.auth_token)
            self.sessions.check_capacity(token.session_id)
        except (AuthTokenError, OrchestratorCapped) as err:
            raise CredentialsError(str(err)) from None
        return token

    def process_payment(self, payment: Payment, balance_key: str) -> None:
        """Credits `payment` to (its sender, `balance_key`); raises PaymentError with go's text
        if any ticket is refused (the good ones before it stay credited, as in go).

        Off-chain the only acceptable payment is the empty one the SDK sends; go would ignore
        tickets silently, lpengine refuses them so that a misconfigured gateway learns its
        tickets are worth nothing here. Raises StoreError when winning tickets cannot be
        written (nothing is acknowledged then).
        """
        if self.billing is None:
            if payment.is_empty:
                return
            raise PaymentError(
                f"payment refused for {balance_key or 'this session'}: this orchestrator runs "
                "off-chain and cannot redeem tickets; send an empty Livepeer-Payment header"
            )
        outcome = self.billing.process(payment, balance_key)
        m = self.metrics
        if outcome.credited_tickets:
            m.inc("lpengine_tickets_total", "Tickets received.", outcome.credited_tickets,
                  result="credited")  # fmt: skip
        if refused := outcome.tickets - outcome.credited_tickets:
            m.inc("lpengine_tickets_total", "Tickets received.", refused, result="refused")
        if outcome.winning_tickets:
            m.inc("lpengine_winning_tickets_total", "Winning tickets queued for redemption.",
                  outcome.winning_tickets)  # fmt: skip
        if outcome.error is not None:
            raise PaymentError(outcome.error)

    def check_balance(self, payment: Payment, balance_key: str) -> None:
        """go's step before paid work (protocol.md §4.2 step 9): with a non-zero expected price
        the balance must hold one ticket's EV, else PaymentError('Insufficient balance')."""
        price = payment.expected_price
        if self.billing is None or price is None or price.price_per_unit <= 0:
            return
        sender = to_address(payment.sender)
        if not self.billing.receiver.sufficient_balance(sender, balance_key):
            raise PaymentError(INSUFFICIENT_BALANCE)

    def receive_payment(self, payment: Payment, creds: SegmentCredentials) -> OrchestratorInfo:
        """POST /payment: checks the credentials, takes the payment into the balance of
        `SegData.manifestId`, returns refreshed info with new ticket params.

        Raises CredentialsError (403), PaymentError (400) or InternalError (500). The info
        keeps the gateway's original auth token: new tokens come only from GetOrchestrator.
        """
        token = self.check_segment_credentials(creds, payment.sender)
        info = self._refreshed_info(payment, creds, token)
        self._take_payment(payment, manifest_key(creds.manifest_id))
        return info

    def accept_live(self, payment: Payment, creds: SegmentCredentials, manifest_id: str) -> None:
        """POST /live-video-to-video steps 5-7 (protocol.md §4.6): credentials, the initial
        payment into the stream's balance (key: its manifest id), the balance check. Raises as
        `receive_payment`."""
        self.check_segment_credentials(creds, payment.sender)
        self._take_payment(payment, manifest_id)
        self.check_balance(payment, manifest_id)

    def live_debit(self, payment: Payment) -> Callable[[str, int], Fraction] | None:
        """How a live stream started with `payment` pays for its time; None when unpriced."""
        price, billing = payment.expected_price, self.billing
        if billing is None or price is None or price.price_per_unit <= 0:
            return None
        return lambda key, units: billing.debit(payment.sender, key, units, price)

    def live_switch_check(self, payment: Payment, model_id: str) -> Callable[[str], None] | None:
        """How a live stream of `model_id` started with `payment` checks a model it would
        switch to (`live.payments.switch_price_check`); None when unpriced (nothing to keep)."""
        price, billing = payment.expected_price, self.billing
        if billing is None or price is None or price.price_per_unit <= 0:
            return None
        return switch_price_check(billing.prices, gateway_key(payment.sender), model_id)

    def _refreshed_info(
        self, payment: Payment, creds: SegmentCredentials, token: AuthToken
    ) -> OrchestratorInfo:
        """Info with fresh ticket params at the session's price, and the gateway's own token."""
        try:
            return self.discovery.info(
                payment.sender, creds.capabilities, token, session=token.session_id
            )
        except QuoteError as err:
            log.error("cannot refresh the orchestrator info for %s: %s", _who(payment), err)
            raise InternalError("Internal Server Error") from err

    def _take_payment(self, payment: Payment, balance_key: str) -> None:
        try:
            self.process_payment(payment, balance_key)
        except PaymentError as err:
            self.metrics.inc("lpengine_payments_total", "Payments received.", result="refused")
            log.warning("payment refused from %s: %s", _who(payment), err)
            raise
        except StoreError as err:
            log.error("payment from %s not taken: %s", _who(payment), err)
            raise InternalError("Internal Server Error") from err
        self.metrics.inc("lpengine_payments_total", "Payments received.", result="accepted")

    def _debit(self, payment: Payment, balance_key: str, pixels: int) -> None:
        """Work done, paid for at the session's price (go's DebitFees); nothing off-chain."""
        price = payment.expected_price
        if self.billing is None or price is None or price.price_per_unit <= 0 or pixels <= 0:
            return
        left = self.billing.debit(payment.sender, balance_key, pixels, price)
        log.debug("debited %d pixels from %s/%s: %s wei left", pixels, _who(payment),
                  balance_key, left)  # fmt: skip

    def balance(self, sender: bytes, balance_key: str) -> dict[str, str | float | None]:
        """A sender's credit under one balance key and the price it pinned (operators)."""
        if self.billing is None:
            raise ValueError("there are no balances off-chain (-network offchain)")
        return self.billing.describe_balance(sender, balance_key)


def manifest_key(manifest_id: bytes) -> str:
    """The balance key of a `SegData.manifestId` (go: the bytes as a string). Bytes that are not
    UTF-8 stay distinct (backslash escapes) and storable."""
    return manifest_id.decode("utf-8", "backslashreplace")


def _who(payment: Payment) -> str:
    return checksum(to_address(payment.sender)) if payment.sender else "an unnamed sender"
