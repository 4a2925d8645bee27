"""Price feed readings and the conversion of a currency to wei (protocol.md §8)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from lpengine.price_feed import (
    WEI_PER_ETH,
    FixedPriceFeed,
    PriceFeed,
    PriceFeedData,
    PriceFeedError,
    parse_pair,
    wei_per,
)


def reading(base: str, quote: str, price: str | int) -> PriceFeedData:
    return PriceFeedData(base, quote, Fraction(price), 0.0)


@pytest.mark.parametrize(
    "data,currency,wei",
    [
        (reading("ETH", "USD", 2000), "USD", Fraction(WEI_PER_ETH, 2000)),  # 1e18 / price
        (reading("ETH", "USD", 2000), "usd", Fraction(WEI_PER_ETH, 2000)),
        (reading("USD", "ETH", "0.0005"), "USD", Fraction(WEI_PER_ETH, 2000)),  # 1e18 * price
        (reading("ETH", "EUR", 3), "EUR", Fraction(WEI_PER_ETH, 3)),  # exact, no rounding
        (reading("LPT", "ETH", "0.003"), "LPT", 3 * 10**15),
    ],
)
def test_wei_per_currency_both_directions(data, currency, wei):
    assert wei_per(currency, data) == wei


@pytest.mark.parametrize(
    "data,currency,error",
    [
        (reading("ETH", "USD", 2000), "EUR", "cannot convert EUR"),
        (reading("ETH", "USD", 2000), "ETH", "cannot convert ETH"),
        (reading("BTC", "USD", 2000), "USD", "ETH on exactly one side"),
        (reading("ETH", "ETH", 1), "ETH", "ETH on exactly one side"),
        (reading("ETH", "USD", 0), "USD", "price 0 is not positive"),
        (reading("ETH", "USD", -1), "USD", "price -1 is not positive"),
    ],
)
def test_wei_per_refuses_what_it_cannot_convert(data, currency, error):
    with pytest.raises(PriceFeedError, match=error):
        wei_per(currency, data)


def test_chainlink_descriptions():
    assert parse_pair("ETH / USD") == ("ETH", "USD")
    assert parse_pair("usd/eth") == ("USD", "ETH")
    for bad in ("ETH-USD", "ETH / USD / EUR", " / USD", ""):
        with pytest.raises(PriceFeedError, match="BASE / QUOTE"):
            parse_pair(bad)


def test_fixed_feed():
    feed: PriceFeed = FixedPriceFeed.parse("eth/usd=3000.5")
    data = feed.latest()
    assert (data.pair, data.price) == ("ETH/USD", Fraction(6001, 2))
    assert feed.latest() == data  # never changes
    assert str(feed) == "fixed ETH/USD=6001/2"
    assert FixedPriceFeed.parse("USD / ETH = 0.0004").latest().pair == "USD/ETH"


@pytest.mark.parametrize(
    "text,error",
    [
        ("ETH/USD", "expected BASE/QUOTE=PRICE"),
        ("ETH/USD=-1", "expected BASE/QUOTE=PRICE"),
        ("ETH/USD=1e3", "expected BASE/QUOTE=PRICE"),
        ("ETHUSD=3000", "expected BASE/QUOTE=PRICE"),
        ("ETH/USD=0", "not positive"),
        ("BTC/USD=60000", "ETH on exactly one side"),
    ],
)
def test_fixed_feed_errors(text, error):
    with pytest.raises(PriceFeedError, match=error):
        FixedPriceFeed.parse(text)
