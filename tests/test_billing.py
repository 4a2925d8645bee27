"""Billing inside the engine on `-network simulated`: quotes with go's overhead and pinning,
ticket params for exactly the quoted price, signatures, balances (protocol.md §5-§8)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from fractions import Fraction
from math import floor

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from lpengine import Engine, EngineConfig, pm
from lpengine.billing import Billing
from lpengine.chain import SimulatedChain
from lpengine.config import ChainConfig
from lpengine.discovery import DiscoveryError, OrchestratorInfo, OrchestratorRequest
from lpengine.payment import CredentialsError, Payment, PaymentError, SegmentCredentials
from lpengine.pm.store import StoreError
from lpengine.price_feed import PriceFeedData
from lpengine.pricing import Price, PriceBook, PriceInfo
from tests.pm.conftest import GATEWAY_KEY
from tests.serve.paying_gateway import WireGateway

ORCH = "0x" + "0a" * 20


def engine_for(tmp_path, **config: object) -> Engine:
    base = {"data_dir": tmp_path, "network": "simulated", "price": Price.parse("1000", 3)}
    return Engine(EngineConfig(**{**base, **config}))  # type: ignore[arg-type]


@pytest.fixture
def gateway() -> WireGateway:
    return WireGateway(GATEWAY_KEY)


def request(gateway: WireGateway) -> OrchestratorRequest:
    sig = gateway.sign_digest(keccak(text=gateway.checksum))
    return OrchestratorRequest(address=gateway.address, sig=sig)


def fund(engine: Engine, gateway: WireGateway, wei: int = 10**18) -> None:
    assert engine.billing is not None
    engine.billing.chain.fund(gateway.address, wei, wei)  # type: ignore[attr-defined]


def pay(
    engine: Engine, gateway: WireGateway, info: OrchestratorInfo, nonces: Iterable[int], key: str
) -> None:
    """Tickets with the info's params at its price, into the balance `key`."""
    assert info.ticket_params is not None and info.price_info is not None
    price = info.price_info
    tickets = gateway.tickets.pay(
        info.ticket_params, nonces, pm.PriceInfo(price.price_per_unit, price.pixels_per_unit)
    )
    payment = Payment(
        tickets.ticket_params, tickets.sender, tickets.expiration_params,
        tickets.ticket_sender_params, price,
    )  # fmt: skip
    engine.process_payment(payment, key)


def test_quotes_pin_and_agree_with_the_charge(tmp_path, gateway):
    with engine_for(tmp_path) as engine:
        fund(engine, gateway)
        info = engine.get_orchestrator(request(gateway))
        quoted = Fraction(floor(Fraction(1000, 3) * Fraction(101, 100) * 1000), 1000)
        assert info.price_info == PriceInfo(quoted.numerator, quoted.denominator)
        session = info.auth_token.session_id
        pay(engine, gateway, info, [0], key=session)  # the params match the quoted price
        engine.set_price("default", Price.parse("5000"))
        # A fresh quote follows the new price; the session keeps the price it paid (§7.7).
        assert engine.get_orchestrator(request(gateway)).price_info.price_per_unit > 5000
        refreshed = engine.discovery.info(gateway.address, None, info.auth_token, session=session)
        assert refreshed.price_info == info.price_info
        assert refreshed.ticket_params.seed != info.ticket_params.seed
        pay(engine, gateway, refreshed, [0], key=session)  # and its new params pay at it
        assert engine.balance(gateway.address, session)["price_wei_per_unit"] == str(quoted)


def test_without_auto_adjust_no_overhead_and_no_truncation(tmp_path, gateway):
    with engine_for(tmp_path, auto_adjust_price=False) as engine:
        fund(engine, gateway)
        assert engine.get_orchestrator(request(gateway)).price_info == PriceInfo(1000, 3)


def test_signatures_of_gateway_node_and_segment(tmp_path, gateway):
    with engine_for(tmp_path) as engine:
        fund(engine, gateway)
        assert engine.billing is not None
        other = WireGateway(bytes.fromhex("22" * 32))
        forged = OrchestratorRequest(gateway.address, request(other).sig)
        with pytest.raises(DiscoveryError, match="orchestrator req sig check failed"):
            engine.get_orchestrator(forged)
        value = b"\x07" * 32
        signer = Account.recover_message(
            encode_defunct(primitive=keccak(value)), signature=engine.ping(value)
        )
        assert bytes.fromhex(signer[2:]) == engine.billing.address
        token = engine.get_orchestrator(request(gateway)).auth_token
        # SegData signed over manifestId, seq, hash and the profile IDs (P720p30fps16x9).
        flat = b"mid" + (5).to_bytes(32, "big") + b"\x01" * 32 + b"49d54ea9"
        creds = SegmentCredentials(
            manifest_id=b"mid", seq=5, hash=b"\x01" * 32, auth_token=token,
            profile_ids=bytes.fromhex("49d54ea9"), sig=gateway.sign_digest(keccak(flat)),
        )  # fmt: skip
        assert engine.check_segment_credentials(creds, gateway.address) == token
        for sender, c in [
            (other.address, creds),
            (gateway.address, SegmentCredentials(**{**creds.__dict__, "seq": 6})),
            (gateway.address, SegmentCredentials(**{**creds.__dict__, "profile_ids": b""})),
        ]:
            with pytest.raises(CredentialsError, match=r"^ErrSegSig$"):
                engine.check_segment_credentials(c, sender)


def test_orch_addr_is_the_recipient_and_the_key_signs(tmp_path, gateway):
    with engine_for(tmp_path, chain=ChainConfig(eth_orch_addr=ORCH)) as engine:
        fund(engine, gateway)
        info = engine.get_orchestrator(request(gateway))
        assert info.ticket_params is not None and info.ticket_params.recipient.hex() == ORCH[2:]
        assert engine.billing is not None and info.address == engine.billing.address
        assert info.address.hex() != ORCH[2:]


def test_insufficient_balance_and_reserve(tmp_path, gateway):
    with engine_for(tmp_path) as engine:
        with pytest.raises(DiscoveryError, match=r"^insufficient sender reserve$"):
            engine.get_orchestrator(request(gateway))  # not funded on the chain
        fund(engine, gateway)
        info = engine.get_orchestrator(request(gateway))
        wants = Payment(sender=gateway.address, expected_price=info.price_info)
        with pytest.raises(PaymentError, match=r"^Insufficient balance$"):
            engine.check_balance(wants, "k")
        pay(engine, gateway, info, [0], key="k")
        engine.check_balance(wants, "k")  # one ticket's EV is enough
        engine.check_balance(Payment(sender=gateway.address), "empty")  # no price: no check


def test_one_engine_per_data_dir(tmp_path):
    with engine_for(tmp_path), pytest.raises(StoreError, match="open in another process"):
        engine_for(tmp_path)
    with engine_for(tmp_path) as again:  # closed: the database is free again
        assert again.status()["payments"]["recipient"].startswith("0x")


def test_the_sweeper_drops_idle_balances(tmp_path, gateway):
    chain = SimulatedChain(None)
    receiver = pm.PaymentReceiver.open(
        tmp_path, recipient=b"\x0a" * 20, chain=chain, config=pm.PaymentConfig(balance_ttl_s=1e-3)
    )
    swept = threading.Event()
    sweep = receiver.sweep

    def observed_sweep() -> int:
        dropped = sweep()
        if dropped:
            swept.set()
        return dropped

    receiver.sweep = observed_sweep  # type: ignore[method-assign]
    receiver.balances.credit(gateway.address, "idle", Fraction(1))
    billing = Billing(
        node=pm.Signer(GATEWAY_KEY), chain=chain, receiver=receiver, prices=PriceBook(),
        sweep_interval_s=0.01,
    )  # fmt: skip
    try:
        assert swept.wait(timeout=10)
        assert receiver.balance(gateway.address, "idle") is None
    finally:
        billing.close()


class SettableFeed:
    """A feed whose reading the test sets (what a Chainlink round does on chain)."""

    def __init__(self, usd_per_eth: int) -> None:
        self.data = PriceFeedData("ETH", "USD", Fraction(usd_per_eth), 1.0)

    def latest(self) -> PriceFeedData:
        return self.data


def test_currency_prices_are_quoted_and_charged_at_the_feeds_rate(tmp_path, gateway):
    feed = SettableFeed(2000)
    with engine_for(tmp_path, price=Price.parse("0.5USD"), price_feed=feed) as engine:
        fund(engine, gateway)
        info = engine.get_orchestrator(request(gateway))
        wei = Fraction(10**18, 2000) / 2 * Fraction(101, 100)  # with go's +1 % overhead
        assert info.price_info == PriceInfo(int(wei), 1)
        session = info.auth_token.session_id
        pay(engine, gateway, info, [0], key=session)  # params made for the converted price
        feed.data = PriceFeedData("ETH", "USD", Fraction(2500), 2.0)
        assert engine.price_feed is not None and engine.price_feed.refresh()
        assert engine.get_orchestrator(request(gateway)).price_info == PriceInfo(
            int(Fraction(10**18, 2500) / 2 * Fraction(101, 100)), 1
        )
        refreshed = engine.discovery.info(gateway.address, None, info.auth_token, session=session)
        assert refreshed.price_info == info.price_info  # a pinned session keeps its price
