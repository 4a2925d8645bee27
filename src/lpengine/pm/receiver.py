"""PaymentReceiver: what the server calls for `Livepeer-Payment` and for quotes.

    receiver = PaymentReceiver.open(data_dir, recipient=addr, chain=chain_view)
    params = receiver.ticket_params(sender, price)           # into OrchestratorInfo
    outcome = receiver.process_payment(payment, balance_key)  # 400 with outcome.error if not ok
    if receiver.sufficient_balance(sender, balance_key): ...  # else 400 "Insufficient balance"
    receiver.debit(sender, balance_key, units)                # after the work, at the pinned price

process_payment follows go-livepeer's `ProcessPayment` + `ReceiveTicket` (protocol.md §7.4) with
its error strings; a winning ticket is committed to disk before it returns. Two deliberate
differences, both closing holes that persistence would otherwise open: a price is pinned only
by a payment that credited at least one ticket (go pins before validating, so anyone could pin
a victim's price), and a payment without ticket params pins nothing (go pins price 0).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from lpengine.pm import errors, nonces, validator
from lpengine.pm.address import ZERO_ADDRESS, checksum, to_address, to_hash32
from lpengine.pm.balance import Balances
from lpengine.pm.chainview import ChainView
from lpengine.pm.config import PaymentConfig
from lpengine.pm.nonces import NonceSets
from lpengine.pm.params import TicketParamsIssuer
from lpengine.pm.payment import (
    ExpirationParamsLike,
    PaymentLike,
    PriceLike,
    TicketExpirationParams,
    TicketParams,
    TicketParamsLike,
)
from lpengine.pm.queue import TicketQueue
from lpengine.pm.recipient_rand import rand_message
from lpengine.pm.secret import derive_secret, load_or_create_secret
from lpengine.pm.senders import SenderMonitor
from lpengine.pm.store import DB_FILE, Store
from lpengine.pm.ticket import SignedTicket, Ticket, aux_data, expected_value, pad32
from lpengine.pm.validator import PaymentValidator

log = logging.getLogger(__name__)


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


class PaymentReceiver:
    def __init__(
        self,
        *,
        recipient: bytes,
        secret: bytes,
        chain: ChainView,
        store: Store,
        config: PaymentConfig | None = None,
    ) -> None:
        if len(recipient) != 20 or len(secret) != 32:
            raise ValueError("recipient: expected 20 bytes; secret: expected 32 bytes")
        self.recipient = recipient
        self.config = config or PaymentConfig()
        self.chain = chain
        self.store = store
        self.senders = SenderMonitor(chain, recipient)
        self.issuer = TicketParamsIssuer(
            recipient=recipient,
            secret=secret,
            chain=chain,
            senders=self.senders,
            config=self.config,
        )
        self.balances = Balances(store, ttl_s=self.config.balance_ttl_s)
        self.queue = TicketQueue(store)
        self._nonces = NonceSets(store, self.config.max_sender_nonces)
        self._validator = PaymentValidator(secret)
        self._ev = Fraction(self.config.ev_wei)
        self._lock = threading.Lock()  # nonce sets, credits and their queued writes, in order
        self._pruned_block = -1
        self._evs: dict[tuple[int, int], Fraction] = {}

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        recipient: bytes,
        chain: ChainView,
        config: PaymentConfig | None = None,
        node_key: bytes | None = None,
    ) -> PaymentReceiver:
        """A receiver on `data_dir/lpdb.sqlite3`; the secret is derived from `node_key` if given,
        else kept in `data_dir`."""
        config = config or PaymentConfig()
        secret = derive_secret(node_key) if node_key else load_or_create_secret(data_dir)
        store = Store(data_dir / DB_FILE, linger_s=config.commit_linger_s)
        try:
            return cls(recipient=recipient, secret=secret, chain=chain, store=store, config=config)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        """Commits everything pending and closes the database."""
        self.store.close()

    def ticket_params(self, sender: bytes, price: Fraction) -> TicketParams:
        """Params for `sender` at `price` wei per unit; raises InsufficientSenderReserve."""
        return self.issuer.ticket_params(sender, price)

    def tx_cost_multiplier(self, sender: bytes) -> Fraction:
        """faceValue / txCost: pricing's auto-adjust overhead is 1 + 1 / this."""
        return self.issuer.tx_cost_multiplier(sender)

    def balance(self, sender: bytes, key: str) -> Fraction | None:
        return self.balances.balance(sender, key)

    def fixed_price(self, sender: bytes, key: str) -> Fraction | None:
        return self.balances.fixed_price(sender, key)

    def sufficient_balance(self, sender: bytes, key: str) -> bool:
        """go's `SufficientBalance`: a balance of at least one ticket's EV."""
        balance = self.balances.balance(sender, key)
        return balance is not None and balance >= self._ev

    def debit(self, sender: bytes, key: str, units: int, price: Fraction | None = None) -> Fraction:
        """Debits `units` of work at the key's pinned price (else `price`); returns the balance."""
        pinned = self.balances.fixed_price(sender, key)
        unit_price = pinned if pinned is not None else price
        if unit_price is None:
            raise ValueError(f"price: no price pinned for {key!r} and none given")
        if units < 0:
            raise ValueError(f"units: expected >= 0, got {units}")
        return self.balances.debit(sender, key, unit_price * units)

    def on_l1_block(self, block: int) -> None:
        """A new L1 block: drop nonce sets whose params expired (the chain watcher calls this)."""
        with self._lock:
            self._prune(block)

    def sweep(self) -> int:
        """Idle balances out (call every minute or so); returns how many were dropped."""
        return self.balances.sweep()

    def process_payment(self, payment: PaymentLike, balance_key: str) -> PaymentOutcome:
        """Validates every ticket, credits the EV of the good ones, queues the winners durably.

        Bad input never raises: it comes back as `outcome.error`. StoreError (the database
        cannot be written, so winners could not be made durable) is the one exception: a 500.
        """
        count = len(payment.ticket_sender_params)
        params = payment.ticket_params
        if params is not None and not payment.sender:
            return PaymentOutcome(count, error=errors.missing_sender(), fatal=True)
        if params is None:
            return PaymentOutcome(count)
        sender = to_address(payment.sender)
        recipient = to_address(params.recipient)
        round_number = self.chain.last_initialized_round()
        if not self.chain.is_active(recipient, round_number):
            return PaymentOutcome(count, error=errors.inactive(recipient, round_number), fatal=True)
        price = _expected_price(payment.expected_price)
        if isinstance(price, str):
            return PaymentOutcome(count, error=price, fatal=True)
        if count == 0:
            return PaymentOutcome(0)
        return self._receive(payment, params, sender, recipient, price, balance_key)

    def _receive(
        self,
        payment: PaymentLike,
        params: TicketParamsLike,
        sender: bytes,
        recipient: bytes,
        price: Fraction,
        balance_key: str,
    ) -> PaymentOutcome:
        count = len(payment.ticket_sender_params)
        expiration: ExpirationParamsLike = payment.expiration_params or TicketExpirationParams()
        block_hash = to_hash32(expiration.creation_round_block_hash)
        rand_hash = to_hash32(params.recipient_rand_hash)
        # NOTE: go checks these per ticket; they depend on nothing a ticket changes, so once.
        failure = self.senders.validate_sender(sender)
        if failure is None and recipient != self.recipient:
            failure = errors.INVALID_RECIPIENT
        if failure is None and sender == ZERO_ADDRESS:
            failure = errors.INVALID_SENDER
        rand32 = None
        if failure is None:
            rand32 = self._recipient_rand(params, expiration, block_hash, sender, price, rand_hash)
            if rand32 is None:
                failure = errors.INVALID_RECIPIENT_RAND
        if failure is not None or rand32 is None:
            log.debug("payment refused: %s", failure)
            return PaymentOutcome(count, error=failure, fatal=True)

        face_value, win_prob = params.face_value, params.win_prob
        aux = aux_data(expiration.creation_round, block_hash)
        prefix = recipient + sender + pad32(face_value) + pad32(win_prob)
        codes = self._validator.check_tickets(
            prefix, rand_hash + aux, sender, rand32, win_prob, payment.ticket_sender_params
        )
        expiration_block = params.expiration_block
        tickets = payment.ticket_sender_params
        error: str | None = None
        credited = 0
        winners: list[SignedTicket] = []
        with self._lock:
            last_block = self.chain.last_seen_l1_block()
            if last_block > self._pruned_block:
                self._prune(last_block)
            signed = zip(tickets, codes, strict=True)
            good = [t.sender_nonce for t, code in signed if code >= validator.VALID]
            seen_codes = iter(self._nonces.record(rand_hash, expiration_block, good))
            for ticket, code in zip(tickets, codes, strict=True):
                nonce = ticket.sender_nonce
                if code == validator.NONCE_OUT_OF_RANGE:
                    error = errors.nonce_out_of_range(sender, nonce)
                    continue
                if code == validator.INVALID_SIGNATURE:
                    error = errors.INVALID_SIGNATURE
                    continue
                seen = next(seen_codes)
                if seen == nonces.SEEN:
                    error = errors.nonce_seen(sender, nonce)
                elif seen == nonces.TOO_MANY:
                    error = errors.nonce_too_many(sender, nonce)
                elif expiration_block <= last_block:
                    error = errors.PARAMS_EXPIRED
                if error is None:
                    credited += 1
                if code == validator.WINNING:  # queued even when the nonce or expiry failed
                    ticket_fields = Ticket(
                        recipient, sender, face_value, win_prob, nonce, rand_hash,
                        expiration.creation_round, block_hash, expiration_block,
                    )  # fmt: skip
                    winners.append(
                        SignedTicket(ticket_fields, ticket.sig, int.from_bytes(rand32, "big"))
                    )
            credit = self._expected_value(face_value, win_prob)
            if credited != 1:
                credit *= credited
            if credited:
                self.balances.credit(sender, balance_key, credit, pin=price)
            if winners:
                self.queue.add(winners)
        if winners:
            self.store.commit()  # NOTE: the winning tickets are on disk before we answer
            log.info(
                "queued %d winning ticket(s) sender=%s recipientRandHash=0x%s",
                len(winners), checksum(sender), rand_hash.hex(),
            )  # fmt: skip
        if error is not None:
            log.debug("payment partly refused: %s (credited %d of %d)", error, credited, count)
        return PaymentOutcome(count, credited, credit, len(winners), error, fatal=False)

    def _recipient_rand(
        self,
        params: TicketParamsLike,
        expiration: ExpirationParamsLike,
        block_hash: bytes,
        sender: bytes,
        price: Fraction,
        rand_hash: bytes,
    ) -> bytes | None:
        seed, face_value, win_prob = params.seed, params.face_value, params.win_prob
        expiration_block, creation_round = params.expiration_block, expiration.creation_round
        if min(seed, face_value, win_prob, expiration_block) < 0 or not (
            0 <= creation_round < 2**256
        ):
            return None  # never issued by us, so the MAC cannot match

        def message() -> bytes:
            aux = aux_data(creation_round, block_hash)
            return rand_message(seed, sender, face_value, win_prob, expiration_block, price, aux)

        key = (
            seed,
            sender,
            face_value,
            win_prob,
            expiration_block,
            price,
            creation_round,
            block_hash,
        )
        return self._validator.recipient_rand(key, message, rand_hash)

    def _expected_value(self, face_value_wei: int, win_prob: int) -> Fraction:
        ev = self._evs.get((face_value_wei, win_prob))
        if ev is None:
            ev = expected_value(face_value_wei, win_prob)
            if len(self._evs) >= 1024:
                self._evs.clear()
            self._evs[(face_value_wei, win_prob)] = ev
        return ev

    def _prune(self, block: int) -> None:
        self._nonces.prune(block)
        self._pruned_block = max(self._pruned_block, block)


def _expected_price(info: PriceLike | None) -> Fraction | str:
    """The price the gateway says it pays, or go's error message for it."""
    if info is None:
        return errors.invalid_expected_price("expected price is nil")
    if info.pixels_per_unit == 0:
        return errors.invalid_expected_price("pixels per unit is 0")
    if info.pixels_per_unit < 0 or info.price_per_unit < 0:
        return errors.invalid_expected_price("price is negative")  # go would accept it
    return Fraction(info.price_per_unit, info.pixels_per_unit)
