"""Price feeds: the rate that turns a price in a currency (`0.5USD`) into wei (protocol.md §8).

A feed quotes one pair BASE/QUOTE: `price` units of QUOTE buy one BASE (a Chainlink "ETH / USD"
aggregator answers about 3000). One side must be ETH and the other the price's currency C:
wei per C = 1e18 / price for an ETH/C feed, 1e18 * price for a C/ETH feed, as go-livepeer's
`currencyToWeiMultiplier`. Two feeds exist: `FixedPriceFeed` (the operator's own rate, for
off-line and embedded use) and `lpengine.chain.chainlink.ChainlinkFeed` (an aggregator on chain).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

WEI_PER_ETH = 10**18
ETH = "ETH"
_FIXED = re.compile(r"^([A-Za-z][A-Za-z0-9]*)/([A-Za-z][A-Za-z0-9]*)=(\d+(?:\.\d+)?)$")


class PriceFeedError(ValueError):
    """A feed that cannot convert a currency: wrong pair, or a price that is not positive."""


@dataclass(frozen=True)
class PriceFeedData:
    """One reading of a feed: `price` QUOTE per BASE, exact, as of `updated_at` (unix s)."""

    base: str
    quote: str
    price: Fraction
    updated_at: float
    round_id: int = 0

    @property
    def pair(self) -> str:
        return f"{self.base}/{self.quote}"


class PriceFeed(Protocol):
    """Anything that can say the latest rate of one currency pair."""

    def latest(self) -> PriceFeedData:
        """The newest reading; raises (any Exception) when the feed cannot be read."""
        ...


def parse_pair(description: str) -> tuple[str, str]:
    """A Chainlink description 'ETH / USD' -> ('ETH', 'USD'), upper-case (go's parseCurrencies)."""
    parts = description.split("/")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise PriceFeedError(
            f"price feed: expected a description 'BASE / QUOTE', got {description!r}"
        )
    return parts[0].strip().upper(), parts[1].strip().upper()


def check_reading(data: PriceFeedData) -> None:
    """Raises PriceFeedError unless `data` has ETH on one side and a positive price."""
    base, quote = data.base.upper(), data.quote.upper()
    if ETH not in (base, quote) or base == quote:
        raise PriceFeedError(f"price feed {data.pair}: expected ETH on exactly one side")
    if data.price <= 0:
        raise PriceFeedError(f"price feed {data.pair}: price {data.price} is not positive")


def wei_per(currency: str, data: PriceFeedData) -> Fraction:
    """Wei per one unit of `currency` at the reading `data`; raises PriceFeedError."""
    check_reading(data)
    currency, base = currency.upper(), data.base.upper()
    if currency not in (base, data.quote.upper()) or currency == ETH:
        raise PriceFeedError(
            f"price feed {data.pair} cannot convert {currency}: it needs ETH/{currency} or "
            f"{currency}/ETH"
        )
    return WEI_PER_ETH / data.price if base == ETH else WEI_PER_ETH * data.price


@dataclass(frozen=True)
class FixedPriceFeed:
    """A rate the operator sets (`-priceFeedFixed ETH/USD=3000`); it never changes.

    go-livepeer has no such option: it reads a Chainlink aggregator (`-priceFeedAddr`).
    """

    base: str
    quote: str
    price: Fraction
    since: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        check_reading(self.latest())

    @classmethod
    def parse(cls, text: str) -> FixedPriceFeed:
        """'ETH/USD=3000' (3000 USD buy one ETH) or 'USD/ETH=0.0004'."""
        m = _FIXED.match(text.replace(" ", ""))
        if m is None:
            raise PriceFeedError(
                f"expected BASE/QUOTE=PRICE with ETH on one side, e.g. ETH/USD=3000, got {text!r}"
            )
        return cls(m.group(1).upper(), m.group(2).upper(), Fraction(m.group(3)))

    def latest(self) -> PriceFeedData:
        return PriceFeedData(self.base, self.quote, self.price, self.since)

    def __str__(self) -> str:
        return f"fixed {self.base}/{self.quote}={self.price}"
