from __future__ import annotations

import logging
from fractions import Fraction

import pytest

from lpengine import Engine, EngineConfig, envs
from lpengine.ai.model_config import AIModelConfig
from lpengine.auth_token import AuthToken, AuthTokenError
from lpengine.capabilities import CapabilitySet, encode_bitstring
from lpengine.config import ChainConfig
from lpengine.discovery import OrchestratorRequest
from lpengine.payment import (
    CredentialsError,
    Payment,
    PaymentError,
    SegmentCredentials,
    TicketParams,
)
from lpengine.price_feed import FixedPriceFeed
from lpengine.pricing import Price


def test_engine_embeds_without_a_server(tmp_path):
    with Engine(EngineConfig(data_dir=tmp_path, num_threads=2)) as engine:
        status = engine.status()
        assert status["network"] == "offchain"
        assert status["features"]["threads"] >= 1
    assert engine.closed


def test_config_is_frozen_and_validated(tmp_path):
    config = EngineConfig(data_dir=tmp_path)
    with pytest.raises(AttributeError):
        config.network = "x"  # type: ignore[misc]
    with pytest.raises(ValueError, match="num_threads"):
        EngineConfig(num_threads=-1)


def test_env_vars_are_declared_once_and_typed(monkeypatch):
    names = [v.name for v in envs.ALL]
    assert len(names) == len(set(names)) and all(n.startswith("LPENGINE_") for n in names)
    monkeypatch.setenv("LPENGINE_NUM_THREADS", "3")
    assert EngineConfig().num_threads == 3
    monkeypatch.setenv("LPENGINE_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="LPENGINE_NUM_THREADS"):
        EngineConfig()
    monkeypatch.setenv("LPENGINE_DISABLE_NATIVE", "maybe")
    with pytest.raises(ValueError, match="LPENGINE_DISABLE_NATIVE"):
        envs.LPENGINE_DISABLE_NATIVE.get()


@pytest.fixture
def engine(tmp_path):
    with Engine(EngineConfig(data_dir=tmp_path, max_sessions=1)) as e:
        yield e


def creds(token=None, **kwargs):
    return SegmentCredentials(auth_token=token, **kwargs)


def test_advertises_what_the_codec_probe_proved(engine):
    advertised = engine.capabilities.advertised()
    # The codecs, and live-video-to-video (35) with its noop pipeline.
    assert set(advertised.capacities) == set(engine.codecs.proven) | {35}
    assert advertised.version and advertised.mandatories == ()
    status = engine.status()
    assert status["capabilities"]["H.264"] == 1 and "Storage S3" in status["not_advertised"]


def test_end_transcoding_session(engine):
    token = engine.get_orchestrator(OrchestratorRequest()).auth_token
    engine.sessions.open(token.session_id)
    engine.end_transcoding_session(token)
    assert not engine.sessions.is_open(token.session_id)
    forged = AuthToken(bytes(32), token.session_id, token.expiration)
    for bad in (forged, None):
        with pytest.raises(AuthTokenError, match=r"^Invalid auth token$"):
            engine.end_transcoding_session(bad)


def test_segment_credentials_checks_in_gos_order(engine):
    token = engine.get_orchestrator(OrchestratorRequest()).auth_token
    assert engine.check_segment_credentials(creds(token)) == token
    cases = [
        (creds(token, duration_ms=300_001), "invalid duration"),
        (creds(token, duration_ms=-1), "invalid duration"),
        (
            creds(token, capabilities=CapabilitySet(bitstring=encode_bitstring([5]))),
            "incompatible capabilities",
        ),
        (creds(None), "missing auth token"),
        (creds(AuthToken(bytes(32), token.session_id, token.expiration)), "invalid auth token"),
    ]
    for c, text in cases:
        with pytest.raises(CredentialsError, match=f"^{text}$"):
            engine.check_segment_credentials(c)
    engine.sessions.open("someone-else")  # max_sessions=1: full
    with pytest.raises(CredentialsError, match=r"^OrchestratorCapped$"):
        engine.check_segment_credentials(creds(token))
    engine.sessions.end("someone-else")
    engine.sessions.open(token.session_id)  # now full with the token's own session,
    assert engine.check_segment_credentials(creds(token)) == token  # which is never capped


def test_payments_off_chain(engine):
    token = engine.get_orchestrator(OrchestratorRequest()).auth_token
    info = engine.receive_payment(Payment(), creds(token, manifest_id=b"abcd"))
    assert info.auth_token == token  # the original token: new ones come from GetOrchestrator
    assert info.transcoder == engine.config.service_uri
    params = TicketParams(b"\x02" * 20, 10**15, 1, bytes(32), 7, 100)
    tickets = Payment(ticket_params=params, sender=b"\x01" * 20)
    with pytest.raises(PaymentError, match="off-chain"):
        engine.receive_payment(tickets, creds(token, manifest_id=b"abcd"))
    assert engine.metrics.value("lpengine_payments_total", result="accepted") == 1
    assert engine.metrics.value("lpengine_payments_total", result="refused") == 1
    assert not tickets.is_empty and Payment(sender=b"\x01" * 20).is_empty


def test_ping_signs_empty_off_chain(engine):
    assert engine.ping(b"anything") == b""  # go's off-chain signature (protocol.md §6)


def test_inactive_settings_are_reported(tmp_path, caplog):
    config = EngineConfig(
        data_dir=tmp_path,
        models_dir=tmp_path / "models",
        chain=ChainConfig(eth_url="https://rpc.example", ticket_ev_wei=10**12),
        ai_models=(AIModelConfig("text-to-image", "sdxl", warm=True),),
        price=Price.parse("1000"),
    )
    with caplog.at_level(logging.WARNING, logger="lpengine"), Engine(config) as e:
        assert e.status()["inactive_settings"] == ["-ethUrl", "-ticketEV"]
        assert e.status()["payments"] is None
        assert 2 not in e.capabilities.advertised().per_capability
    text = caplog.text
    assert "-ethUrl is set but has no effect on -network offchain" in text
    assert f"text-to-image/sdxl is not advertised: model 'sdxl' is not in {tmp_path}" in text
    assert "quoted but not charged" in text


def test_config_checks_the_service_uri(tmp_path):
    for bad in ("127.0.0.1:8935", "https://host", "https://host:8935/path", "ftp://h:1"):
        with pytest.raises(ValueError, match="service_uri"):
            EngineConfig(data_dir=tmp_path, service_uri=bad)
    with pytest.raises(ValueError, match="maxSessions"):
        EngineConfig(data_dir=tmp_path, max_sessions=0)


def test_price_feed_status_metrics_and_live_prices(tmp_path):
    feed = FixedPriceFeed("ETH", "USD", Fraction(2000), since=100.0)
    config = EngineConfig(data_dir=tmp_path, price=Price.parse("1USD"), price_feed=feed)
    with Engine(config) as e:
        assert e.get_orchestrator(OrchestratorRequest()).price_info.price_per_unit == 5 * 10**14
        doc = e.status()["price_feed"]
        assert (doc["source"], doc["pair"], doc["price"]) == (
            "fixed ETH/USD=2000", "ETH/USD", "2000",
        )  # fmt: skip
        assert doc["age_s"] > 0 and doc["wei_per_currency"] == {"USD": str(5 * 10**14)}
        assert e.status()["prices"]["default"] == "1 USD/unit = 5e+14 wei/unit"
        assert e.metrics.value("lpengine_price_feed_price", pair="ETH/USD") == 2000
        assert e.metrics.value("lpengine_price_feed_age_seconds", pair="ETH/USD") > 0
        with pytest.raises(ValueError, match="cannot convert EUR"):
            e.set_price("default", Price.parse("1EUR"))
        e.set_price("default", Price.parse("2USD"))
        assert e.get_orchestrator(OrchestratorRequest()).price_info.price_per_unit == 10**15
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        assert e.status()["price_feed"] is None
        with pytest.raises(ValueError, match="currency USD needs a price feed"):
            e.set_price("default", Price.parse("1USD"))


def test_engine_refuses_currency_prices_it_cannot_convert(tmp_path):
    with pytest.raises(ValueError, match="USD need a price feed"):
        Engine(EngineConfig(data_dir=tmp_path, price=Price.parse("1USD")))
    eur = FixedPriceFeed("ETH", "EUR", Fraction(1800))
    with pytest.raises(ValueError, match="cannot convert USD"):
        Engine(EngineConfig(data_dir=tmp_path, price=Price.parse("1USD"), price_feed=eur))
