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
from collections.abc import Hashable, Sequence
from fractions import Fraction
from pathlib import Path

from lpengine.pm import errors
from lpengine.pm.address import ZERO_ADDRESS, checksum, to_address, to_hash32
from lpengine.pm.balance import Balances
from lpengine.pm.chainview import ChainView
from lpengine.pm.config import PaymentConfig
from lpengine.pm.nonces import NEW, NonceSets
from lpengine.pm.outcome import PaymentOutcome, SharedParams, judge
from lpengine.pm.params import TicketParamsIssuer
from lpengine.pm.payment import (
    ExpirationParamsLike,
    PaymentLike,
    PriceLike,
    SenderParamsLike,
    TicketExpirationParams,
    TicketParams,
    TicketParamsLike,
)
from lpengine.pm.queue import TicketQueue
from lpengine.pm.recipient_rand import rand_message
from lpengine.pm.secret import derive_secret, load_or_create_secret
from lpengine.pm.senders import SenderMonitor
from lpengine.pm.store import DB_FILE, Store
from lpengine.pm.ticket import SignedTicket, aux_data
from lpengine.pm.validator import VALID, WINNING, PaymentValidator

log = logging.getLogger(__name__)

_SHARED_ENTRIES = 4096


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
        self._check_ticket = self._validator.check_ticket
        self._ev = Fraction(self.config.ev_wei)
        self._lock = threading.Lock()  # nonce sets, credits and their queued writes, in order
        self._pruned_block = -1
        self._shared: dict[Hashable, SharedParams] = {}  # validated params, by their fields

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
        tickets = payment.ticket_sender_params
        params = payment.ticket_params
        if params is None:
            return PaymentOutcome(len(tickets))
        if not payment.sender:
            return PaymentOutcome(len(tickets), error=errors.missing_sender(), fatal=True)
        price = payment.expected_price
        expiration = payment.expiration_params
        key: Hashable | None = None
        shared = None
        if price is not None:
            # Everything the checks that SharedParams stands for depend on, as received.
            key = (
                params.seed, params.recipient_rand_hash, payment.sender, params.recipient,
                params.face_value, params.win_prob, params.expiration_block,
                price.price_per_unit, price.pixels_per_unit,
                None if expiration is None else expiration.creation_round,
                None if expiration is None else expiration.creation_round_block_hash,
            )  # fmt: skip
            try:
                shared = self._shared.get(key)
            except TypeError:  # unhashable input: no cache, the slow path judges it
                key = None
        if shared is None:
            return self._process_uncached(payment, params, tickets, balance_key, key)
        # NOTE: cached params passed every check that depends on the payment alone (the price,
        # recipient, sender, recipientRand); the chain's state is read anew, in go's order.
        chain = self.chain
        round_number = chain.last_initialized_round()
        if not chain.is_active(shared.recipient, round_number):
            error = errors.inactive(shared.recipient, round_number)
            return PaymentOutcome(len(tickets), error=error, fatal=True)
        count = len(tickets)
        if not count:
            return PaymentOutcome(0)
        failure = self.senders.validate_sender(shared.sender, round_number)
        if failure is not None:
            log.debug("payment refused: %s", failure)
            return PaymentOutcome(count, error=failure, fatal=True)
        if count == 1:
            return self._receive_one(shared, tickets[0], balance_key)
        return self._receive(shared, tickets, balance_key)

    def _process_uncached(
        self,
        payment: PaymentLike,
        params: TicketParamsLike,
        tickets: Sequence[SenderParamsLike],
        balance_key: str,
        key: Hashable | None,
    ) -> PaymentOutcome:
        count = len(tickets)
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
        expiration: ExpirationParamsLike = payment.expiration_params or TicketExpirationParams()
        block_hash = to_hash32(expiration.creation_round_block_hash)
        rand_hash = to_hash32(params.recipient_rand_hash)
        # NOTE: go checks these per ticket; they depend on nothing a ticket changes, so once.
        failure = self.senders.validate_sender(sender, round_number)
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
        shared = SharedParams(
            sender=sender,
            recipient=recipient,
            face_value=params.face_value,
            win_prob=params.win_prob,
            expiration_block=params.expiration_block,
            creation_round=expiration.creation_round,
            block_hash=block_hash,
            rand_hash=rand_hash,
            rand32=rand32,
            price=price,
        )
        if key is not None:
            if len(self._shared) >= _SHARED_ENTRIES:
                self._shared.pop(next(iter(self._shared)), None)  # oldest first
            self._shared[key] = shared
        if count == 1:
            return self._receive_one(shared, tickets[0], balance_key)
        return self._receive(shared, tickets, balance_key)

    def _receive(
        self, shared: SharedParams, tickets: Sequence[SenderParamsLike], balance_key: str
    ) -> PaymentOutcome:
        count = len(tickets)
        codes = self._validator.check_tickets(
            shared.prefix, shared.suffix, shared.sender, shared.rand32, shared.win_prob32, tickets
        )
        error: str | None = None
        winners: list[SignedTicket] | None = None
        with self._lock:
            last_block = self.chain.last_seen_l1_block()
            if last_block > self._pruned_block:
                self._prune(last_block)
            if count == 1:
                good = [tickets[0].sender_nonce] if codes[0] >= VALID else []
            else:
                signed = zip(tickets, codes, strict=True)
                good = [t.sender_nonce for t, code in signed if code >= VALID]
            seen_codes = self._nonces.record(shared.rand_hash, shared.expiration_block, good)
            if (
                seen_codes.count(NEW) == count  # so every signature was good too
                and shared.expiration_block > last_block
                and WINNING not in codes
            ):
                credited = count  # the common case, without going through the rules one by one
            else:
                credited, error, winners = judge(
                    shared, tickets, codes, iter(seen_codes), last_block
                )
                if winners:
                    self.queue.add(winners)
            if credited:
                self.balances.credit_ev(
                    shared.sender, balance_key, shared.ev_num * credited, pin=shared.price
                )
        return self._outcome(shared, count, credited, error, winners)

    def _receive_one(
        self, shared: SharedParams, ticket: SenderParamsLike, balance_key: str
    ) -> PaymentOutcome:
        """`_receive` of a payment of one ticket: the same steps in the same order, straight
        through for the common case (good signature, fresh nonce, live params, no win)."""
        nonce = ticket.sender_nonce
        code = self._check_ticket(
            shared.prefix, shared.suffix, shared.sender, shared.rand32, shared.win_prob32,
            nonce, ticket.sig,
        )  # fmt: skip
        with self._lock:
            last_block = self.chain.last_seen_l1_block()
            if last_block > self._pruned_block:
                self._prune(last_block)
            seen_codes: tuple[int, ...] = ()
            if code >= VALID:
                seen = self._nonces.record_one(shared.rand_hash, shared.expiration_block, nonce)
                if seen == NEW and code == VALID and shared.expiration_block > last_block:
                    self.balances.credit_ev(
                        shared.sender, balance_key, shared.ev_num, pin=shared.price
                    )
                    return shared.accepted_one  # shared, immutable
                seen_codes = (seen,)
            credited, error, winners = judge(
                shared, (ticket,), [code], iter(seen_codes), last_block
            )
            if winners:
                self.queue.add(winners)
            if credited:
                self.balances.credit_ev(
                    shared.sender, balance_key, shared.ev_num * credited, pin=shared.price
                )
        return self._outcome(shared, 1, credited, error, winners)

    def _outcome(
        self,
        shared: SharedParams,
        count: int,
        credited: int,
        error: str | None,
        winners: list[SignedTicket] | None,
    ) -> PaymentOutcome:
        """The outcome once the lock is released; winners are committed to disk first."""
        if winners:
            self.store.commit()  # NOTE: the winning tickets are on disk before we answer
            log.info(
                "queued %d winning ticket(s) sender=%s recipientRandHash=0x%s",
                len(winners), checksum(shared.sender), shared.rand_hash.hex(),
            )  # fmt: skip
            return PaymentOutcome(
                count, credited, shared.credit(credited), len(winners), error, fatal=False
            )
        if error is not None:
            log.debug("payment partly refused: %s (credited %d of %d)", error, credited, count)
            return PaymentOutcome(count, credited, shared.credit(credited), 0, error, fatal=False)
        return shared.accepted(count)  # every ticket credited, none won: shared, immutable

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
