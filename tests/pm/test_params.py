"""TicketParams generation (protocol.md §7.3, go-livepeer pm/recipient.go)."""

from __future__ import annotations

import hashlib
import hmac
from fractions import Fraction

import pytest

from lpengine.pm import InMemoryChain, InsufficientSenderReserve, PaymentConfig
from lpengine.pm.params import TicketParamsIssuer, win_prob
from lpengine.pm.senders import SenderMonitor
from lpengine.pm.ticket import MAX_WIN_PROB
from tests.pm.keccak_reference import keccak256_reference

RECIPIENT, SENDER, SECRET = b"\x0a" * 20, b"\x0b" * 20, bytes([3]) + bytes(31)


def issuer(chain: InMemoryChain, **config: int) -> TicketParamsIssuer:
    return TicketParamsIssuer(
        recipient=RECIPIENT,
        secret=SECRET,
        chain=chain,
        senders=SenderMonitor(chain, RECIPIENT),
        config=PaymentConfig(**config),
        random_bytes=lambda n: b"\x5e" * n,
    )


def funded(reserve_wei: int = 10**20, **kw: int) -> InMemoryChain:
    chain = InMemoryChain(**kw)
    chain.fund(SENDER, deposit_wei=10**20, reserve_wei=reserve_wei)
    return chain


def test_go_livepeer_vector() -> None:
    # go-livepeer pm/recipient_test.go TestTicketParams: EV 5, redeem gas 10000, gas price 100,
    # multiplier 100 -> faceValue 1e8 and this winProb.
    chain = funded(gas_price_wei=100)
    p = issuer(chain, ev_wei=5, redeem_gas=10_000).ticket_params(SENDER, Fraction(1))
    assert p.face_value == 100_000_000
    assert p.win_prob == 5789604461865809771178549250434395392663499233282028201972879200395660


def test_win_prob_edges() -> None:
    assert win_prob(0, 5) == 0
    assert win_prob(5, 5) == MAX_WIN_PROB
    assert win_prob(7, 5) == 5 * -(-MAX_WIN_PROB // 7)
    assert win_prob(MAX_WIN_PROB, 1) == 1


def test_face_value_floor_is_100_ev_when_gas_is_cheap() -> None:
    p = issuer(funded(gas_price_wei=0), ev_wei=1000).ticket_params(SENDER, Fraction(1))
    assert p.face_value == 100_000


def test_face_value_caps() -> None:
    chain = funded(reserve_wei=50_000, gas_price_wei=0)
    assert issuer(chain, ev_wei=1000).face_value_wei(SENDER) == 50_000  # max float
    chain.pool_size = 2
    assert issuer(chain, ev_wei=1000).face_value_wei(SENDER) == 25_000  # reserve / pool size
    assert issuer(chain, ev_wei=1000, max_face_value_wei=3000).face_value_wei(SENDER) == 3000
    with pytest.raises(InsufficientSenderReserve, match=r"^insufficient sender reserve$"):
        issuer(chain, ev_wei=30_000).face_value_wei(SENDER)


def test_reserve_too_small_for_the_gas() -> None:
    # faceValue (capped by the reserve) below txCost and below redeemGas x 3 gwei.
    chain = funded(reserve_wei=10**15, gas_price_wei=10**10)
    with pytest.raises(InsufficientSenderReserve):
        issuer(chain, ev_wei=1000).face_value_wei(SENDER)
    chain.gas_price = 10**8  # now the reserve covers the tx cost
    assert issuer(chain, ev_wei=1000).face_value_wei(SENDER) == 10**15


def test_free_price_has_no_tickets() -> None:
    p = issuer(funded()).ticket_params(SENDER, Fraction(0))
    assert (p.face_value, p.win_prob) == (0, 0)


def test_expiration_and_creation_round() -> None:
    chain = funded(block=500, round_number=9, round_block_hash=b"\x11" * 32)
    p = issuer(chain).ticket_params(SENDER, Fraction(1))
    assert p.expiration_block == 540
    assert p.expiration_params is not None
    assert (p.expiration_params.creation_round, p.expiration_params.creation_round_block_hash) == (
        9,
        b"\x11" * 32,
    )
    chain.round_block_hash = bytes(32)  # Arbitrum's zero hashes: previous round instead
    p = issuer(chain).ticket_params(SENDER, Fraction(1))
    assert p.expiration_params is not None
    assert p.expiration_params.creation_round == 8
    assert p.expiration_params.creation_round_block_hash == b"\x22" * 32


def test_rand_hash_is_the_documented_hmac_built_independently() -> None:
    chain = funded(block=500, round_number=9, gas_price_wei=0)
    price = Fraction(1200, 3)
    p = issuer(chain, ev_wei=1000).ticket_params(SENDER, price)
    assert p.seed == int.from_bytes(b"\x5e" * 32, "big")

    def minimal(n: int) -> bytes:
        return n.to_bytes((n.bit_length() + 7) // 8, "big")

    message = (
        b"\x5e" * 32 + SENDER + minimal(100_000) + minimal(p.win_prob) + minimal(540)
        + minimal(400) + minimal(1) + (9).to_bytes(32, "big") + b"\x11" * 32
    )  # fmt: skip
    rand = hmac.new(SECRET, message, hashlib.sha256).digest()
    assert p.recipient_rand_hash == keccak256_reference(rand)


def test_negative_price_is_refused() -> None:
    with pytest.raises(ValueError, match="price"):
        issuer(funded()).ticket_params(SENDER, Fraction(-1))


def test_tx_cost_multiplier() -> None:
    chain = funded(gas_price_wei=10)
    assert issuer(chain, ev_wei=1).tx_cost_multiplier(SENDER) == 100
    chain.gas_price = 0
    assert issuer(chain, ev_wei=1).tx_cost_multiplier(SENDER) == 0
