from __future__ import annotations

import json
from fractions import Fraction

import pytest

from lpengine.price_feed import PriceFeedData, PriceFeedError
from lpengine.pricing import (
    DEFAULT_GATEWAY,
    WEI,
    WEI_PER_ETH,
    Price,
    PriceBook,
    PriceInfo,
    gateway_key,
    parse_amount,
    parse_price_amount,
    parse_price_per_gateway,
)

G1 = "0x" + "ab" * 20
G2 = "0x" + "cd" * 20


@pytest.mark.parametrize(
    "text,wei",
    [
        ("1000", 1000),
        ("1000wei", 1000),
        ("0.5", Fraction(1, 2)),
        ("0.5eth", WEI_PER_ETH // 2),
        ("2ETH", 2 * WEI_PER_ETH),
        ("0", 0),
    ],
)
def test_amounts(text, wei):
    assert parse_amount(text, "price") == wei


@pytest.mark.parametrize("text", ["", "-1", "1e3", "abc", "1.", "0x10"])
def test_bad_amounts_name_the_option(text):
    with pytest.raises(ValueError, match=r"^pricePerUnit: "):
        parse_amount(text, "pricePerUnit")


def test_other_currencies_are_kept_for_a_price_feed():
    assert parse_price_amount("0.5USD", "pricePerUnit") == (Fraction(1, 2), "USD")
    assert parse_price_amount("2eur", "pricePerUnit") == (2, "EUR")
    assert parse_price_amount("0.001eth", "pricePerUnit") == (WEI_PER_ETH // 1000, WEI)
    assert Price.parse("0.5USD", 4) == Price(Fraction(1, 8), "USD")
    with pytest.raises(ValueError, match="deposit: expected wei or eth"):
        parse_amount("1USD", "deposit")  # where no feed applies
    with pytest.raises(PriceFeedError, match="USD needs a price feed"):
        _ = Price.parse("1USD").wei_per_unit


def test_price_per_units():
    assert Price.parse("1000", 3).wei_per_unit == Fraction(1000, 3)
    with pytest.raises(ValueError, match="pixelsPerUnit"):
        Price.parse("1000", 0)


@pytest.mark.parametrize(
    "price,fixed,expected",
    [
        (Fraction(1000, 3), True, (333333, 1000)),  # truncated to 3 decimals, reduced
        (Fraction(1000, 3), False, (1000, 3)),  # exact when auto-adjust is off
        (Fraction(5, 2), True, (5, 2)),
        (Fraction(1, 3000), True, (0, 1)),
        (Fraction(WEI_PER_ETH, 7), True, (142857142857142857142, 1000)),
    ],
)
def test_price_info(price, fixed, expected):
    if expected[0] > 2**63 - 1:  # overflows int64: whole wei instead (floor)
        expected = (int(price), 1)
    info = PriceInfo.of(price, fixed)
    assert (info.price_per_unit, info.pixels_per_unit) == expected


def test_price_info_too_large_for_the_wire():
    with pytest.raises(ValueError, match="int64"):
        PriceInfo.of(Fraction(2**64), True)


def test_gateway_keys():
    assert gateway_key(b"") == gateway_key(bytes(20)) == DEFAULT_GATEWAY
    assert gateway_key(bytes.fromhex("ab" * 20)) == G1
    assert gateway_key(G1.upper().replace("0X", "0x")) == G1
    assert gateway_key("default") == DEFAULT_GATEWAY
    with pytest.raises(ValueError, match="gateway"):
        gateway_key("0x1234")


def book(**kwargs):
    return PriceBook(
        Price.parse("100"),
        {G1: Price.parse("200")},
        {
            (DEFAULT_GATEWAY, 27, "sdxl"): Price.parse("10"),
            (G1, 27, "sdxl"): Price.parse("20"),
            (DEFAULT_GATEWAY, 35, "noop"): Price.parse("1", 3),
        },
        **kwargs,
    )


def test_quotes():
    b = book()
    assert b.quote(DEFAULT_GATEWAY) == PriceInfo(100, 1)
    assert b.quote(G1) == PriceInfo(200, 1)  # per-gateway base price
    assert b.quote(G2) == PriceInfo(100, 1)  # unknown gateways: the default
    assert b.quote(DEFAULT_GATEWAY, [(27, "sdxl")]) == PriceInfo(10, 1)
    assert b.quote(G1, [(27, "sdxl")]) == PriceInfo(20, 1)  # its own capability price
    # A sum over the requested pairs, truncated to 3 decimals: 10 + 1/3 -> 10.333.
    assert b.quote(DEFAULT_GATEWAY, [(27, "sdxl"), (35, "noop")]) == PriceInfo(10333, 1000)
    assert b.quote(DEFAULT_GATEWAY, [(30, "x")]) == PriceInfo(100, 1)  # unpriced pairs: base


def test_capability_price_menu():
    b = book(fixed_point=False)
    menu = b.capability_prices(G1, [(27, "sdxl"), (35, "noop"), (30, "x")])
    assert menu == [
        PriceInfo(20, 1, 27, "sdxl"),
        PriceInfo(1, 3, 35, "noop"),
        PriceInfo(200, 1, 30, "x"),  # an unpriced model costs the gateway's base price
    ]


def test_live_price_changes_and_is_priced():
    b = PriceBook()
    assert not b.is_priced
    b.set_base_price(G2, Price.parse("7"))
    assert b.is_priced and b.quote(G2) == PriceInfo(7, 1) and b.quote(G1) == PriceInfo(0, 1)


def test_price_per_gateway_json():
    doc = {
        "gateways": [
            {
                "ethaddress": G1.upper().replace("0X", "0x"),
                "priceperunit": 1000,
                "pixelsperunit": 4,
            },
            {"ethaddress": G2, "priceperunit": "0.5", "currency": "eth"},
        ]
    }
    prices = parse_price_per_gateway(json.dumps(doc))
    assert prices == {G1: Price(Fraction(250)), G2: Price(Fraction(WEI_PER_ETH // 2))}


@pytest.mark.parametrize(
    "text",
    ['{"gateways": {}}', "[]", "not json", '{"gateways": [{"priceperunit": 1}]}'],
)
def test_price_per_gateway_errors(text):
    with pytest.raises(ValueError, match="pricePerGateway"):
        parse_price_per_gateway(text)


ETH_USD_2000 = PriceFeedData("ETH", "USD", Fraction(2000), 1000.0)
WEI_PER_USD = WEI_PER_ETH // 2000  # 5e14


def currency_book(feed=ETH_USD_2000, **kwargs):
    return PriceBook(
        Price.parse("0.5USD"),
        {G1: Price.parse("0.001eth"), G2: Price.parse("1USD", 1000)},
        {(DEFAULT_GATEWAY, 27, "sdxl"): Price.parse("0.25USD"), (G1, 27, "sdxl"): Price.parse("3")},
        feed=feed,
        **kwargs,
    )


def test_currency_prices_convert_through_the_feed():
    b = currency_book()
    assert b.quote(DEFAULT_GATEWAY) == PriceInfo(WEI_PER_USD // 2, 1)  # 0.5 USD = 2.5e14 wei
    assert b.quote(G1) == PriceInfo(WEI_PER_ETH // 1000, 1)  # eth: no feed involved
    assert b.quote(G2) == PriceInfo(WEI_PER_USD // 1000, 1)  # per gateway, over 1000 pixels
    assert b.quote(DEFAULT_GATEWAY, [(27, "sdxl")]) == PriceInfo(WEI_PER_USD // 4, 1)  # per model
    assert b.quote(G1, [(27, "sdxl")]) == PriceInfo(3, 1)
    menu = b.capability_prices(G2, [(27, "sdxl"), (30, "x")])
    assert [p.wei_per_unit for p in menu] == [WEI_PER_USD // 4, WEI_PER_USD // 1000]
    assert b.rates == {"USD": WEI_PER_USD}
    assert b.describe()["default"] == "0.5 USD/unit = 2.5e+14 wei/unit"


def test_both_pair_directions_agree():
    usd_eth = PriceFeedData("USD", "ETH", Fraction(1, 2000), 1000.0)  # C/ETH: 1e18 * price
    assert currency_book(usd_eth).quote(DEFAULT_GATEWAY) == PriceInfo(WEI_PER_USD // 2, 1)
    # An exact rational rate, truncated only at the wire: 1 USD at 3000 USD/ETH.
    b = PriceBook(Price.parse("1USD"), feed=PriceFeedData("ETH", "USD", Fraction(3000), 0.0))
    assert b.price(DEFAULT_GATEWAY) == Fraction(WEI_PER_ETH, 3000)
    assert b.quote(DEFAULT_GATEWAY) == PriceInfo(333333333333333333, 1000)


def test_a_new_reading_reconverts_every_price():
    b = currency_book()
    b.set_feed(PriceFeedData("ETH", "USD", Fraction(4000), 2000.0))  # ETH doubled: half the wei
    assert b.quote(DEFAULT_GATEWAY) == PriceInfo(WEI_PER_USD // 4, 1)
    assert b.quote(G2) == PriceInfo(WEI_PER_USD // 2000, 1)
    assert b.quote(DEFAULT_GATEWAY, [(27, "sdxl")]) == PriceInfo(WEI_PER_USD // 8, 1)
    assert b.quote(G1) == PriceInfo(WEI_PER_ETH // 1000, 1)  # wei prices never move
    assert b.feed is not None and b.feed.price == 4000


@pytest.mark.parametrize(
    "reading,error",
    [
        (PriceFeedData("ETH", "USD", Fraction(0), 1.0), "not positive"),
        (PriceFeedData("ETH", "USD", Fraction(-5), 1.0), "not positive"),
        (PriceFeedData("ETH", "EUR", Fraction(3000), 1.0), "cannot convert USD"),
        (PriceFeedData("BTC", "USD", Fraction(3000), 1.0), "ETH on exactly one side"),
    ],
)
def test_a_bad_reading_changes_nothing(reading, error):
    b = currency_book()
    with pytest.raises(PriceFeedError, match=error):
        b.set_feed(reading)
    assert b.feed == ETH_USD_2000 and b.quote(DEFAULT_GATEWAY) == PriceInfo(WEI_PER_USD // 2, 1)


def test_currencies_need_a_feed_that_converts_them():
    with pytest.raises(PriceFeedError, match="USD need a price feed"):
        PriceBook(Price.parse("1USD"))
    with pytest.raises(PriceFeedError, match="cannot convert EUR"):
        PriceBook(Price.parse("1EUR"), feed=ETH_USD_2000)
    b = PriceBook(Price.parse("1000"))
    with pytest.raises(PriceFeedError, match="currency USD needs a price feed"):
        b.set_base_price(G1, Price.parse("1USD"))
    b = currency_book()
    with pytest.raises(PriceFeedError, match="cannot convert EUR"):
        b.set_base_price(G1, Price.parse("1EUR"))
    assert b.base_price(G1) == Price(Fraction(WEI_PER_ETH // 1000), WEI)  # unchanged
    b.set_base_price(G1, Price.parse("2USD"))
    assert b.quote(G1) == PriceInfo(2 * WEI_PER_USD, 1)


def test_price_per_gateway_currency():
    doc = {"gateways": [{"ethaddress": G1, "priceperunit": 0.5, "currency": "USD"}]}
    assert parse_price_per_gateway(json.dumps(doc)) == {G1: Price(Fraction(1, 2), "USD")}
