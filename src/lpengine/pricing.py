"""Prices: parsing operator input, per-gateway and per-capability prices, and quotes.

A price is an exact rational number of wei per unit of work (a pixel for transcoding; see
protocol.md §7.6 for the other units). Quotes follow go-livepeer (protocol.md §8): a request that
names capabilities pays the sum of the prices of the (capability, model) pairs it names, else the
base price; with auto-adjust on, the price is truncated to 3 decimals of wei.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from math import floor

WEI_PER_ETH = 10**18
INT64_MAX = 2**63 - 1
DEFAULT_GATEWAY = "default"
_AMOUNT = re.compile(r"^(\d+(?:\.\d+)?)([A-Za-z][A-Za-z0-9]*)?$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def parse_amount(text: str, what: str) -> Fraction:
    """'1000', '1000wei', '0.5eth' -> wei. Other currencies need the chain's price feeds."""
    m = _AMOUNT.match(text.strip())
    if m is None:
        raise ValueError(
            f"{what}: expected a non-negative number with an optional currency, got {text!r}"
        )
    amount, currency = Fraction(m.group(1)), (m.group(2) or "wei").lower()
    if currency == "wei":
        return amount
    if currency == "eth":
        return amount * WEI_PER_ETH
    raise ValueError(
        f"{what}: currency {m.group(2)!r} needs an ETH/{m.group(2)} price feed, which comes "
        "with chain support (not built yet); give the price in wei or eth"
    )


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
    """Wei per unit of work, exact."""

    wei_per_unit: Fraction

    @classmethod
    def parse(
        cls, price_per_unit: str, pixels_per_unit: str | int = 1, what: str = "price"
    ) -> Price:
        """-pricePerUnit / -pixelsPerUnit as an operator writes them: '0.5eth', '1000' + 3."""
        amount = parse_amount(price_per_unit, what)
        return cls(amount / parse_positive_int(pixels_per_unit, "pixelsPerUnit"))

    @property
    def is_zero(self) -> bool:
        return self.wei_per_unit == 0

    def __str__(self) -> str:
        return f"{float(self.wei_per_unit):.6g} wei/unit"


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
    """Base prices per gateway and prices per (gateway, capability, model); changeable live."""

    def __init__(
        self,
        base: Price = ZERO,
        per_gateway: Mapping[str, Price] | None = None,
        per_capability: Mapping[tuple[str, int, str], Price] | None = None,
        fixed_point: bool = True,
    ) -> None:
        self._base = {
            DEFAULT_GATEWAY: base,
            **{gateway_key(g): p for g, p in (per_gateway or {}).items()},
        }
        self._caps = {(gateway_key(g), c, m): p for (g, c, m), p in (per_capability or {}).items()}
        self.fixed_point = fixed_point  # -autoAdjustPrice: truncate to 3 decimals of wei
        self._lock = threading.Lock()

    def set_base_price(self, gateway: str, price: Price) -> None:
        with self._lock:
            self._base[gateway_key(gateway)] = price

    def base_price(self, gateway: str) -> Price:
        return self._base.get(gateway, self._base[DEFAULT_GATEWAY])

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
            (p.wei_per_unit for c, m in requested if (p := self.capability_price(gateway, c, m))),
            Fraction(0),
        )
        return total if total != 0 else self.base_price(gateway).wei_per_unit

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
                (self.capability_price(gateway, c, m) or base).wei_per_unit, self.fixed_point, c, m
            )
            for c, m in models
        ]

    def describe(self) -> dict[str, str]:
        with self._lock:
            return {g: str(p) for g, p in self._base.items()}


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
