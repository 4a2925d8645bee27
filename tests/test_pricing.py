from __future__ import annotations

import json
from fractions import Fraction

import pytest

from lpengine.pricing import (
    DEFAULT_GATEWAY,
    WEI_PER_ETH,
    Price,
    PriceBook,
    PriceInfo,
    gateway_key,
    parse_amount,
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


def test_other_currencies_need_the_chain():
    with pytest.raises(ValueError, match=r"USD.*price feed.*chain"):
        parse_amount("0.5USD", "pricePerUnit")


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
