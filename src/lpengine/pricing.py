"""Prices: parsing operator input, per-gateway and per-capability prices, and quotes.

A price is an exact rational number of wei per unit of work (a pixel for transcoding; see
protocol.md §7.6 for the other units). Quotes follow go-livepeer (protocol.md §8): a request that
names capabilities pays the sum of the prices of the (capability, model) pairs it names, else the
base price; with auto-adjust on, the price is truncated to 3 decimals of wei.

A price may also be set in another currency (`0.5USD`): the book keeps the amount and converts it
to wei with the latest reading of a price feed (`lpengine.price_feed`), so every quote and charge
after `set_feed` uses the new rate.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from math import floor

from lpengine.price_feed import WEI_PER_ETH, PriceFeedData, PriceFeedError, check_reading, wei_per

WEI = "WEI"
INT64_MAX = 2**63 - 1
DEFAULT_GATEWAY = "default"
_AMOUNT = re.compile(r"^(\d+(?:\.\d+)?)([A-Za-z][A-Za-z0-9]*)?$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def parse_price_amount(text: str, what: str) -> tuple[Fraction, str]:
    """'1000', '1000wei', '0.5eth' -> (wei, 'WEI'); '0.5USD' -> (0.5, 'USD'): a currency that a
    price feed converts later."""
    m = _AMOUNT.match(text.strip())
    if m is None:
        raise ValueError(
            f"{what}: expected a non-negative number with an optional currency, got {text!r}"
        )
    amount, currency = Fraction(m.group(1)), (m.group(2) or WEI).upper()
    if currency == WEI:
        return amount, WEI
    if currency == "ETH":
        return amount * WEI_PER_ETH, WEI
    return amount, currency


def parse_amount(text: str, what: str) -> Fraction:
    """'1000', '1000wei', '0.5eth' -> wei, where no price feed applies (deposits, reserves)."""
    amount, currency = parse_price_amount(text, what)
    if currency != WEI:
        raise ValueError(f"{what}: expected wei or eth, got currency {currency!r} in {text!r}")
    return amount


def parse_positive_int(text: str | int, what: str) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise ValueError(f"{what}: expected a positive integer, got {text!r}")
    return value


def gateway_key(address: str | bytes) -> str:
    """A gateway's lookup key: lowercase 0x-hex, or 'default' for an empty or zero address."""
    if isinstance(address, bytes):
        if not address.strip(b"\0"):
            return DEFAULT_GATEWAY
        return "0x" + address.rjust(20, b"\0")[-20:].hex()
    if address.lower() == DEFAULT_GATEWAY:
        return DEFAULT_GATEWAY
    if not _ADDRESS.match(address):
        raise ValueError(
            f"gateway: expected 'default' or a 0x-prefixed 20-byte address, got {address!r}"
        )
    return address.lower()


@dataclass(frozen=True)
class Price:
    """An exact price per unit of work: wei, or an amount of `currency` that a feed converts."""

    amount_per_unit: Fraction
    currency: str = WEI  # upper-case: WEI (eth is converted when parsed), USD, ...

    @classmethod
    def parse(
        cls, price_per_unit: str, pixels_per_unit: str | int = 1, what: str = "price"
    ) -> Price:
        """-pricePerUnit / -pixelsPerUnit as an operator writes them: '0.5eth', '1000' + 3,
        '0.5USD'."""
        amount, currency = parse_price_amount(price_per_unit, what)
        return cls(amount / parse_positive_int(pixels_per_unit, "pixelsPerUnit"), currency)

    @property
    def wei_per_unit(self) -> Fraction:
        """The price in wei; only for a price set in wei (`PriceBook` converts the others)."""
        if self.currency != WEI:
            raise PriceFeedError(f"a price in {self.currency} needs a price feed to be in wei")
        return self.amount_per_unit

    @property
    def is_zero(self) -> bool:
        return self.amount_per_unit == 0

    def __str__(self) -> str:
        unit = "wei" if self.currency == WEI else self.currency
        return f"{float(self.amount_per_unit):.6g} {unit}/unit"


ZERO = Price(Fraction(0))


@dataclass(frozen=True)
class PriceInfo:
    """The plain form of `net.PriceInfo`: pricePerUnit / pixelsPerUnit wei per unit."""

    price_per_unit: int
    pixels_per_unit: int
    capability: int = 0
    constraint: str = ""

    @classmethod
    def of(
        cls, price: Fraction, fixed_point: bool, capability: int = 0, constraint: str = ""
    ) -> PriceInfo:
        """The wire form of `price`: truncated to 3 decimals of wei when `fixed_point`.

        A numerator or denominator past int64 falls back to whole wei (floor).
        """
        if fixed_point:
            price = Fraction(floor(price * 1000), 1000)
        num, den = price.numerator, price.denominator
        if num > INT64_MAX or den > INT64_MAX:
            num, den = floor(price), 1
            if num > INT64_MAX:
                raise ValueError(f"price: {price} wei per unit does not fit the wire's int64")
        return cls(num, den, capability, constraint)

    @property
    def wei_per_unit(self) -> Fraction:
        return Fraction(self.price_per_unit, self.pixels_per_unit or 1)


class PriceBook:
    """Base prices per gateway and prices per (gateway, capability, model); changeable live.

    NOTE: every price in a currency other than wei has a rate in `_rates` (from the current
    feed reading) at all times; `set_feed` and the setters refuse anything that would break that.
    """

    def __init__(
        self,
        base: Price = ZERO,
        per_gateway: Mapping[str, Price] | None = None,
        per_capability: Mapping[tuple[str, int, str], Price] | None = None,
        fixed_point: bool = True,
        feed: PriceFeedData | None = None,
    ) -> None:
        self._base = {
            DEFAULT_GATEWAY: base,
            **{gateway_key(g): p for g, p in (per_gateway or {}).items()},
        }
        self._caps = {(gateway_key(g), c, m): p for (g, c, m), p in (per_capability or {}).items()}
        self.fixed_point = fixed_point  # -autoAdjustPrice: truncate to 3 decimals of wei
        self._lock = threading.Lock()
        self._feed: PriceFeedData | None = None
        self._rates: dict[str, Fraction] = {}  # wei per unit of each currency in use
        if feed is not None:
            self.set_feed(feed)
        elif currencies := self._currencies():
            raise PriceFeedError(
                f"prices in {', '.join(sorted(currencies))} need a price feed to convert to wei"
            )

    @property
    def feed(self) -> PriceFeedData | None:
        """The feed reading prices are converted with."""
        return self._feed

    @property
    def rates(self) -> dict[str, Fraction]:
        """Wei per unit of each currency prices are set in (wei itself excluded)."""
        return dict(self._rates)

    def set_feed(self, data: PriceFeedData) -> None:
        """Re-converts every price with a new reading; raises PriceFeedError (and changes
        nothing) if the reading cannot convert a currency in use."""
        check_reading(data)
        with self._lock:
            rates = {c: wei_per(c, data) for c in self._currencies()}
            self._feed, self._rates = data, rates

    def _currencies(self) -> set[str]:
        prices = (*self._base.values(), *self._caps.values())
        return {p.currency for p in prices if p.currency != WEI}

    def _check(self, price: Price) -> dict[str, Fraction]:
        """The rates with `price`'s currency in them; raises PriceFeedError."""
        if price.currency == WEI or price.currency in self._rates:
            return self._rates
        if self._feed is None:
            raise PriceFeedError(
                f"currency {price.currency} needs a price feed (-priceFeedFixed or "
                "-priceFeedAddr); give the price in wei or eth"
            )
        return {**self._rates, price.currency: wei_per(price.currency, self._feed)}

    def wei(self, price: Price) -> Fraction:
        """`price` in wei per unit at the current rate."""
        if price.currency == WEI:
            return price.amount_per_unit
        return price.amount_per_unit * self._rates[price.currency]

    def set_base_price(self, gateway: str, price: Price) -> None:
        """Raises ValueError for a bad gateway or a currency the feed cannot convert."""
        key = gateway_key(gateway)
        with self._lock:
            self._rates = self._check(price)
            self._base[key] = price

    def base_price(self, gateway: str) -> Price:
        return self._base.get(gateway, self._base[DEFAULT_GATEWAY])

    def set_capability_price(
        self, gateway: str, capability: int, model: str, price: Price | None
    ) -> None:
        """Sets (None: removes) one gateway's or 'default''s price for (capability, model), e.g.
        a BYOC registration's; raises ValueError for a currency the feed cannot convert."""
        key = (gateway_key(gateway), capability, model)
        with self._lock:
            if price is None:
                self._caps.pop(key, None)
                return
            self._rates = self._check(price)
            self._caps[key] = price

    def capability_price(self, gateway: str, capability: int, model: str) -> Price | None:
        """A gateway's own price for (capability, model), else the default one, else None."""
        return self._caps.get((gateway, capability, model)) or self._caps.get(
            (DEFAULT_GATEWAY, capability, model)
        )

    @property
    def is_priced(self) -> bool:
        """Whether the operator set any non-zero price."""
        return any(not p.is_zero for p in (*self._base.values(), *self._caps.values()))

    def price(self, gateway: str, requested: Iterable[tuple[int, str]] = ()) -> Fraction:
        """Wei per unit for a request naming `requested` (capability, model) pairs, exact."""
        total = sum(
            (self.wei(p) for c, m in requested if (p := self.capability_price(gateway, c, m))),
            Fraction(0),
        )
        return total if total != 0 else self.wei(self.base_price(gateway))

    def quote(
        self,
        gateway: str,
        requested: Iterable[tuple[int, str]] = (),
        overhead: Fraction | int = 1,
    ) -> PriceInfo:
        """The wire price for a request naming `requested` pairs, times `overhead` (the
        auto-adjust share of redemption costs) before truncation."""
        return PriceInfo.of(self.price(gateway, requested) * overhead, self.fixed_point)

    def capability_prices(self, gateway: str, models: Iterable[tuple[int, str]]) -> list[PriceInfo]:
        """One price per advertised (capability, model); unpriced models cost the base price."""
        base = self.base_price(gateway)
        return [
            PriceInfo.of(
                self.wei(self.capability_price(gateway, c, m) or base), self.fixed_point, c, m
            )
            for c, m in models
        ]

    def describe(self) -> dict[str, str]:
        """Each gateway's base price, with its value in wei when set in another currency."""
        with self._lock:
            return {
                g: str(p) if p.currency == WEI else f"{p} = {float(self.wei(p)):.6g} wei/unit"
                for g, p in self._base.items()
            }


def parse_price_per_gateway(text: str) -> dict[str, Price]:
    """-pricePerGateway: {"gateways": [{"ethaddress", "priceperunit", "pixelsperunit",
    "currency"}, ...]}."""
    what = "pricePerGateway"
    try:
        doc = json.loads(text)
        entries = doc["gateways"]
        if not isinstance(entries, list):
            raise TypeError("'gateways' is not a list")
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(
            f'{what}: expected JSON {{"gateways": [...]}}, got {text!r} ({err})'
        ) from None
    prices: dict[str, Price] = {}
    for entry in entries:
        if not isinstance(entry, dict) or "ethaddress" not in entry or "priceperunit" not in entry:
            raise ValueError(
                f"{what}: each gateway needs 'ethaddress' and 'priceperunit', got {entry!r}"
            )
        currency = str(entry.get("currency", "") or "")
        price = Price.parse(
            f"{entry['priceperunit']}{currency}", entry.get("pixelsperunit", 1), what=what
        )
        prices[gateway_key(str(entry["ethaddress"]))] = price
    return prices
