"""Flags and the TOML file, parsed in process (test_main.py runs the exit-code cases)."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from lpengine.price_feed import FixedPriceFeed
from lpengine.pricing import WEI_PER_ETH, Price
from lpengine.serve.options import OptionError, build, parse

GW = "0x" + "ab" * 20


def test_defaults(tmp_path):
    o = build(["-dataDir", str(tmp_path)])
    assert o.engine.service_uri == "https://127.0.0.1:8935"
    assert (o.serve.host, o.serve.port, o.serve.plain_host) == ("127.0.0.1", 8935, None)
    assert (o.serve.cli_host, o.serve.cli_port) == ("127.0.0.1", 7935)
    assert o.engine.max_sessions == 10 and o.engine.price.is_zero and o.engine.auto_adjust_price
    assert not o.engine.monitor and o.engine.chain.inactive() == []


def test_go_flags(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret\n")
    gateways = tmp_path / "gateways.json"
    gateways.write_text(json.dumps({"gateways": [{"ethaddress": GW, "priceperunit": 5}]}))
    o = build([
        "-serviceAddr", "10.0.0.5:9935",
        "-httpAddr", "0.0.0.0:9935",
        "-cliAddr", "127.0.0.1:9936",
        "-dataDir", str(tmp_path),
        "-pricePerUnit", "0.001eth",
        "-pixelsPerUnit", "4",
        "-pricePerGateway", str(gateways),
        "-maxSessions", "auto",
        "-aiModels", "live-video-to-video:noop:true",
        "-orchSecret", str(secret),
        "-ethUrl", "https://arb1.example/rpc",
        "-ethAddr", GW,
        "-maxFaceValue", "1000000000000000",
        "-ticketEV", "1000000000000",
        "-autoAdjustPrice=false",
        "-monitor",
        "-nodes", "https://10.0.0.6:8935,https://10.0.0.7:8935",
        "-v", "6",
    ])  # fmt: skip
    e, s = o.engine, o.serve
    assert e.service_uri == "https://10.0.0.5:9935" and (s.host, s.port) == ("0.0.0.0", 9935)
    assert e.price.wei_per_unit == Fraction(WEI_PER_ETH, 1000 * 4) and e.pixels_per_unit == 4
    assert e.price_per_gateway[GW].wei_per_unit == 5
    assert e.max_sessions == "auto" and e.ai_models[0].model_id == "noop"
    assert e.orch_secret == "s3cret" and not e.auto_adjust_price and e.monitor
    assert e.chain.inactive() == ["-ethUrl", "-ethAddr", "-maxFaceValue", "-ticketEV"]
    assert e.nodes == ("https://10.0.0.6:8935", "https://10.0.0.7:8935")
    assert o.log_level == "DEBUG" and o.verbosity == 6


def test_http_addr_alone_is_also_advertised(tmp_path):
    o = build(["-dataDir", str(tmp_path), "-httpAddr", "10.0.0.9:9000"])
    assert (o.serve.host, o.serve.port) == ("10.0.0.9", 9000)
    assert o.engine.service_uri == "https://10.0.0.9:9000"


def test_plaintext_http_addr(tmp_path):
    o = build(["-dataDir", str(tmp_path), "-httpAddr", "http://127.0.0.1:9999"])
    assert (o.serve.plain_host, o.serve.plain_port) == ("127.0.0.1", 9999)
    assert (o.serve.host, o.serve.port) == ("127.0.0.1", 8935)  # TLS stays where it was


def test_toml_file_and_flags_win(tmp_path):
    config = tmp_path / "lpengine.toml"
    config.write_text(
        f'dataDir = "{tmp_path}"\n'
        'pricePerUnit = "1000"\n'
        "pixelsPerUnit = 2\n"
        "maxSessions = 4\n"
        "monitor = true\n"
        '[[aiModels]]\npipeline = "llm"\nmodel_id = "m"\nprice_per_unit = 3\n'
    )
    o = build(["-config", str(config), "-maxSessions", "6"])
    assert o.engine.price.wei_per_unit == 500 and o.engine.max_sessions == 6 and o.engine.monitor
    assert o.engine.ai_models[0].pipeline == "llm"


@pytest.mark.parametrize(
    "toml,named",
    [
        ("colour = 1\n", "unknown option 'colour'"),
        ("maxSessions = 0\n", "-maxSessions (in "),
        ("this is not toml", "cannot read"),
    ],
)
def test_toml_errors_name_the_option_and_file(tmp_path, toml, named):
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    with pytest.raises(OptionError, match=named.replace("(", r"\(")):
        build(["-config", str(config)])


def test_parse_exits_2_naming_the_option(capsys):
    with pytest.raises(SystemExit) as exit_:
        parse(["-pixelsPerUnit", "0"])
    assert exit_.value.code == 2
    assert "-pixelsPerUnit: pixelsPerUnit: expected a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        parse(["-pricePerUnit", "0.5USD"])
    assert exit_.value.code == 2
    assert "-pricePerUnit: currency USD needs a price feed" in capsys.readouterr().err


def test_simulated_network_and_its_key_flags(tmp_path):
    password = tmp_path / "password.txt"
    password.write_text("s3cret\n")
    o = build([
        "-dataDir", str(tmp_path), "-network", "simulated", "-pricePerUnit", "1000",
        "-ethPassword", str(password), "-ethKeystorePath", str(tmp_path / "keys"),
        "-ethOrchAddr", GW, "-ethUrl", "https://arb1.example/rpc",
    ])  # fmt: skip
    e = o.engine
    assert e.network == "simulated" and e.payments_on
    assert e.chain.eth_password == "s3cret" and "s3cret" not in repr(e.chain)
    assert e.chain.eth_keystore_path == tmp_path / "keys" and e.chain.eth_orch_addr == GW
    assert e.chain.inactive(e.network) == ["-ethUrl"]  # no Ethereum node on a simulated chain
    with pytest.raises(OptionError, match="-pricePerUnit: must be set on -network simulated"):
        build(["-dataDir", str(tmp_path), "-network", "simulated"])  # go refuses to start too
    with pytest.raises(OptionError, match="'mainnet' is not a network; use one of offchain"):
        build(["-network", "mainnet"])


def test_currency_prices_with_a_fixed_price_feed(tmp_path):
    gateways = {"gateways": [{"ethaddress": GW, "priceperunit": 2, "currency": "usd"}]}
    models = [{"pipeline": "llm", "model_id": "m", "price_per_unit": "0.1", "currency": "USD"}]
    o = build([
        "-dataDir", str(tmp_path),
        "-pricePerUnit", "0.5USD", "-pixelsPerUnit", "2",
        "-pricePerGateway", json.dumps(gateways),
        "-aiModels", json.dumps(models),
        "-priceFeedFixed", "ETH/USD=2000",
        "-priceFeedInterval", "30m",
    ])  # fmt: skip
    e = o.engine
    assert e.price == Price(Fraction(1, 4), "USD") and e.price_per_gateway[GW].currency == "USD"
    assert e.price_feed == FixedPriceFeed("ETH", "USD", Fraction(2000), e.price_feed.since)
    assert e.price_feed_interval_s == 1800
    assert build(["-dataDir", str(tmp_path)]).engine.price_feed_interval_s == 3600  # go: hourly


EUR_GATEWAY = {"ethaddress": GW, "priceperunit": 1, "currency": "EUR"}


@pytest.mark.parametrize(
    "argv,named",
    [
        (["-pricePerUnit", "0.5USD"], "-pricePerUnit: currency USD needs a price feed"),
        (
            [
                "-pricePerGateway",
                json.dumps({"gateways": [EUR_GATEWAY]}),
                "-priceFeedFixed",
                "ETH/USD=2000",
            ],
            "-pricePerGateway: price feed ETH/USD cannot convert EUR",
        ),
        (
            [
                "-aiModels",
                '[{"pipeline":"llm","model_id":"m","price_per_unit":1,"currency":"EUR"}]',
            ],
            "-aiModels: currency EUR needs a price feed",
        ),
        (["-priceFeedFixed", "BTC/USD=60000"], "-priceFeedFixed: price feed BTC/USD: expected ETH"),
        (["-priceFeedFixed", "ETH/USD=0"], "-priceFeedFixed: .*not positive"),
        (["-priceFeedFixed", "3000"], "-priceFeedFixed: expected BASE/QUOTE=PRICE"),
        (["-priceFeedInterval", "0"], "-priceFeedInterval: expected a positive duration"),
        (["-priceFeedInterval", "1d"], "-priceFeedInterval: expected a positive duration"),
        (["-pricePerUnit", "0.5US$"], "-pricePerUnit: expected a non-negative number"),
        (["-priceFeedAddr", "0x12"], "-priceFeedAddr: address: expected 40 hex digits"),
        (
            ["-priceFeedAddr", GW, "-ethUrl", "https://arb1.example/rpc"],
            "-priceFeedAddr: reading a Chainlink price feed needs an Ethereum client",
        ),
    ],
)
def test_price_feed_errors_name_the_option(tmp_path, argv, named):
    with pytest.raises(OptionError, match=named.replace("$", r"\$")):
        build(["-dataDir", str(tmp_path), *argv])


def test_max_pixel_rate(tmp_path):
    assert build(["-dataDir", str(tmp_path)]).engine.max_pixel_rate == 0
    o = build(["-dataDir", str(tmp_path), "-maxPixelRate", "1.5G"])
    assert o.engine.max_pixel_rate == 1_500_000_000
    with pytest.raises(OptionError, match="-maxPixelRate: expected pixels per second"):
        build(["-dataDir", str(tmp_path), "-maxPixelRate", "lots"])


def test_trickle_changefeed_is_off_unless_asked_for(tmp_path):
    assert not build(["-dataDir", str(tmp_path)]).engine.trickle_changefeed
    assert build(["-dataDir", str(tmp_path), "-trickleChangefeed"]).engine.trickle_changefeed
    toml = tmp_path / "lp.toml"
    toml.write_text("trickleChangefeed = true\n")
    assert build(["-dataDir", str(tmp_path), "-config", str(toml)]).engine.trickle_changefeed
    with pytest.raises(OptionError, match="trickleChangefeed"):
        build(["-dataDir", str(tmp_path), "-trickleChangefeed=maybe"])
