"""TicketParams for a (sender, price): face value, win probability, expiry (protocol.md §7.3)."""

from __future__ import annotations

import os
from collections.abc import Callable
from fractions import Fraction

from lpengine.pm.chainview import ChainView
from lpengine.pm.config import PaymentConfig
from lpengine.pm.errors import InsufficientSenderReserve
from lpengine.pm.payment import TicketExpirationParams, TicketParams
from lpengine.pm.recipient_rand import rand_hash, rand_message, recipient_rand
from lpengine.pm.senders import SenderMonitor
from lpengine.pm.ticket import MAX_WIN_PROB, ZERO_HASH, aux_data

EV_MULTIPLIER = 100
"""When txCost * multiplier is below EV, faceValue = EV * this (go's `evMultiplier`)."""
AVG_GAS_PRICE_WEI = 3 * 10**9
"""go's hard-coded "average" gas price for the reserve check (protocol.md §13.7)."""


def win_prob(face_value_wei: int, ev_wei: int) -> int:
    """EV * ceil((2^256 - 1) / faceValue); faceValue == EV → 2^256 - 1; faceValue 0 → 0."""
    if face_value_wei == 0:
        return 0
    if face_value_wei == ev_wei:
        return MAX_WIN_PROB
    return ev_wei * -(-MAX_WIN_PROB // face_value_wei)


class TicketParamsIssuer:
    def __init__(
        self,
        *,
        recipient: bytes,
        secret: bytes,
        chain: ChainView,
        senders: SenderMonitor,
        config: PaymentConfig,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.recipient = recipient
        self._secret = secret
        self._chain = chain
        self._senders = senders
        self._config = config
        self._random_bytes = random_bytes

    def tx_cost_wei(self) -> int:
        """What redeeming one ticket costs at the current gas price."""
        return self._config.redeem_gas * max(self._chain.gas_price_wei(), 0)

    def face_value_wei(self, sender: bytes) -> int:
        """Raises InsufficientSenderReserve, or ChainError when the chain cannot be read."""
        cfg = self._config
        tx_cost = self.tx_cost_wei()
        face_value = tx_cost * cfg.tx_cost_multiplier
        if face_value < cfg.ev_wei:
            face_value = cfg.ev_wei * EV_MULTIPLIER
        face_value = min(face_value, self._senders.max_float_wei(sender))
        if cfg.max_face_value_wei > 0:
            face_value = min(face_value, cfg.max_face_value_wei)
        if face_value < cfg.ev_wei:
            raise InsufficientSenderReserve()
        if face_value < tx_cost and face_value < cfg.redeem_gas * AVG_GAS_PRICE_WEI:
            raise InsufficientSenderReserve()
        return face_value

    def tx_cost_multiplier(self, sender: bytes) -> Fraction:
        """faceValue / txCost for this sender (0 when gas is free): the price overhead's input."""
        face_value = self.face_value_wei(sender)
        tx_cost = self.tx_cost_wei()
        return Fraction(face_value, tx_cost) if tx_cost > 0 else Fraction(0)

    def expiration_params(self) -> TicketExpirationParams:
        """The last initialized round and its block hash; round - 1 when that hash is zero.

        NOTE: Arbitrum left some L1 block hashes zero; go steps back one round for them.
        """
        round_number = self._chain.last_initialized_round()
        block_hash = self._chain.last_initialized_l1_block_hash()
        if block_hash == ZERO_HASH:
            round_number -= 1
            block_hash = self._chain.pre_last_initialized_l1_block_hash()
        return TicketExpirationParams(round_number, block_hash)

    def ticket_params(self, sender: bytes, price: Fraction) -> TicketParams:
        """Fresh params for `sender` paying `price` wei per unit (price 0: free, no tickets)."""
        if price < 0:
            raise ValueError(f"price: expected >= 0, got {price}")
        seed = int.from_bytes(self._random_bytes(32), "big")
        face_value = self.face_value_wei(sender) if price > 0 else 0
        probability = win_prob(face_value, self._config.ev_wei)
        expiration_block = self._chain.last_seen_l1_block() + self._config.params_expiration_blocks
        expiration = self.expiration_params()
        message = rand_message(
            seed,
            sender,
            face_value,
            probability,
            expiration_block,
            price,
            aux_data(expiration.creation_round, expiration.creation_round_block_hash),
        )
        return TicketParams(
            recipient=self.recipient,
            face_value=face_value,
            win_prob=probability,
            recipient_rand_hash=rand_hash(recipient_rand(self._secret, message)),
            seed=seed,
            expiration_block=expiration_block,
            expiration_params=expiration,
        )
