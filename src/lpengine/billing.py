"""Billing: what the node charges and how it is paid, on any network but offchain.

One object per engine owns the node's key, the chain view and the `pm.PaymentReceiver`, and
answers what discovery and the paid routes ask (protocol.md §5-§8):
- `quote`: go's price for the sender and request, times the auto-adjust overhead
  1 + txCost / faceValue, truncated to 3 decimals of wei; or the price the session pinned;
- `ticket_params`: params bound to exactly that wire price (the price is inside the
  recipientRand HMAC), so a gateway that pays what it was quoted always matches;
- signatures: the gateway's over its own address and over SegData, and the node's own;
- `process`: validation, credit, and the winning tickets on disk before the answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from lpengine.chain import Closeable, chain_redeemer, keystore, open_chain, register_on_start
from lpengine.chain import close as _close
from lpengine.config import EngineConfig
from lpengine.payment import SegmentCredentials
from lpengine.pm import PaymentConfig, PaymentOutcome, PaymentReceiver, Signer, TicketParams
from lpengine.pm.address import checksum, to_address
from lpengine.pm.chainview import ChainView
from lpengine.pm.keccak import keccak256
from lpengine.pm.payment import PaymentLike
from lpengine.pm.signature import verify
from lpengine.pricing import PriceBook, PriceInfo, gateway_key

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 60.0
"""How often idle balances are swept and nonce sets of expired params dropped."""


class Billing:
    def __init__(
        self,
        *,
        node: Signer,
        chain: ChainView,
        receiver: PaymentReceiver,
        prices: PriceBook,
        sweep_interval_s: float = SWEEP_INTERVAL_S,
    ) -> None:
        self.node = node
        self.chain = chain
        self.receiver = receiver
        self.prices = prices
        self.redeemer: Closeable | None = None
        self._stop = threading.Event()
        self._sweeper = threading.Thread(
            target=self._sweep, args=(sweep_interval_s,), name="lpengine-pm-sweep", daemon=True
        )
        self._sweeper.start()

    @classmethod
    def open(cls, config: EngineConfig, prices: PriceBook) -> Billing:
        """The node key (made on first start), the chain of `config.network`, the receiver."""
        c = config.chain
        key = keystore.load_or_create(
            c.eth_keystore_path or config.data_dir / keystore.KEYSTORE_DIR,
            wanted=bytes.fromhex(c.eth_addr[2:]) if c.eth_addr else None,
            password=c.eth_password,
        )
        # go: tickets name -ethOrchAddr when set (a hot wallet signing for a cold orchestrator).
        recipient = bytes.fromhex(c.eth_orch_addr[2:]) if c.eth_orch_addr else key.address
        defaults = PaymentConfig()
        payment_config = PaymentConfig(
            ev_wei=c.ticket_ev_wei or defaults.ev_wei,
            max_face_value_wei=c.max_face_value_wei or 0,
        )
        chain = open_chain(config.network, config.data_dir, c, recipient)
        try:
            receiver = PaymentReceiver.open(
                config.data_dir,
                recipient=recipient,
                chain=chain,
                config=payment_config,
                node_key=key.private_key,
            )
            # A real network redeems the winning tickets (lpengine.chain.redeemer).
            redeemer = chain_redeemer(
                chain, receiver, key.private_key, initialize_round=bool(c.initialize_round)
            )
            if c.register_service_uri:
                register_on_start(chain, key.private_key, config.service_uri, c.ai_service_registry)
        except BaseException:
            _close(chain)
            raise
        log.info(
            "payments on (%s): node %s, ticket recipient %s, ticket EV %d wei",
            config.network, checksum(key.address), checksum(recipient), payment_config.ev_wei,
        )  # fmt: skip
        billing = cls(node=key.signer(), chain=chain, receiver=receiver, prices=prices)
        billing.redeemer = redeemer
        return billing

    @property
    def address(self) -> bytes:
        """The node's own address: `OrchestratorInfo.address`, the key that signs results."""
        return self.node.address

    @property
    def recipient(self) -> bytes:
        return self.receiver.recipient

    def sign(self, message: bytes) -> bytes:
        """go's `orchestrator.Sign`: EIP-191 over keccak256(message)."""
        return self.node.sign(keccak256(message))

    def verify_request(self, sender: bytes, sig: bytes) -> bool:
        """OrchestratorRequest.sig: the gateway's signature over its checksummed address."""
        sender = to_address(sender)
        return verify(sender, keccak256(checksum(sender).encode("ascii")), sig)

    def verify_segment(self, creds: SegmentCredentials, sender: bytes) -> bool:
        """SegData.sig by the payment's sender (protocol.md §4.2 step 3)."""
        return verify(to_address(sender), keccak256(creds.signed_bytes()), creds.sig)

    def quote(
        self, sender: bytes, requested: Iterable[tuple[int, str]] = (), session: str = ""
    ) -> PriceInfo:
        """The price `sender` pays; raises InsufficientSenderReserve or ChainError.

        A session with a pinned price keeps it, as go (protocol.md §7.7).
        """
        sender = to_address(sender)
        if session and (pinned := self.receiver.fixed_price(sender, session)) is not None:
            return PriceInfo.of(pinned, fixed_point=False)
        price = self.prices.price(gateway_key(sender), requested)
        overhead = Fraction(1)
        if self.prices.fixed_point and price > 0:  # -autoAdjustPrice
            multiplier = self.receiver.tx_cost_multiplier(sender)
            if multiplier > 0:
                overhead += 1 / multiplier
        return PriceInfo.of(price * overhead, self.prices.fixed_point)

    def ticket_params(self, sender: bytes, price: PriceInfo) -> TicketParams:
        """Params for paying exactly `price` (the wire form a gateway sends back)."""
        return self.receiver.ticket_params(to_address(sender), price.wei_per_unit)

    def process(self, payment: PaymentLike, balance_key: str) -> PaymentOutcome:
        """Raises StoreError only (the database cannot be written)."""
        return self.receiver.process_payment(payment, balance_key)

    def debit(self, sender: bytes, key: str, units: int, price: PriceInfo) -> Fraction:
        """Work done for (sender, key): `units` at the key's pinned price, else `price`; returns
        the balance left (it may go negative, as in go)."""
        return self.receiver.debit(to_address(sender), key, units, price.wei_per_unit)

    def describe_balance(self, sender: bytes, key: str) -> dict[str, str | float | None]:
        """The credit of (sender, key), exact and approximate, and the price it pinned."""
        sender = to_address(sender)
        amount = self.receiver.balance(sender, key)
        price = self.receiver.fixed_price(sender, key)
        return {
            "sender": checksum(sender),
            "key": key,
            "balance_wei": None if amount is None else str(amount),
            "balance_wei_approx": None if amount is None else float(amount),
            "price_wei_per_unit": None if price is None else str(price),
        }

    def describe(self) -> dict[str, Any]:
        return {
            "node_address": checksum(self.address),
            "recipient": checksum(self.recipient),
            "ticket_ev_wei": self.receiver.config.ev_wei,
            "max_face_value_wei": self.receiver.config.max_face_value_wei,
            "last_block": self.chain.last_seen_l1_block(),
            "round": self.chain.last_initialized_round(),
            "unredeemed_winning_tickets": sum(
                self.receiver.queue.count(s, 0) for s in self.receiver.queue.senders()
            ),
        }

    def close(self) -> None:
        self._stop.set()
        self._sweeper.join()
        if self.redeemer is not None:
            self.redeemer.close()
        _close(self.chain)
        self.receiver.close()

    def _sweep(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self.receiver.on_l1_block(self.chain.last_seen_l1_block())
                if swept := self.receiver.sweep():
                    log.info("swept %d idle balance(s)", swept)
            except Exception:  # the next round tries again; a dead sweeper would leak memory
                log.exception("payments sweep failed")
