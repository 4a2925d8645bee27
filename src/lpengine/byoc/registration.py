"""A BYOC registration: what a worker (or a host's callable) offers under a capability name.

Workers post it as JSON to `/capability/register` (protocol.md §4.8): `{name, description, url,
capacity, price_per_unit (int64), price_scaling (int64, 0 -> 1), currency, token}`; the price
per second of compute is price_per_unit / price_scaling in `currency` (wei when empty).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

from lpengine.price_feed import WEI_PER_ETH
from lpengine.pricing import WEI, Price

INT64_MAX = 2**63 - 1
MAX_REGISTRATION_BYTES = 64 * 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_CURRENCY = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


class RegistrationError(ValueError):
    """A registration refused; the message names the field and what was expected."""


@dataclass(frozen=True)
class Registration:
    name: str  # the capability name: constraint of capability 37, balance key, URL segment
    capacity: int  # concurrent jobs
    url: str = ""  # http(s)://host:port[/base] of the worker; "" for an in-process callable
    price_per_unit: int = 0  # per second of compute, over price_scaling
    price_scaling: int = 1
    currency: str = WEI
    description: str = ""
    token: str = ""  # sent to the worker as `Authorization: Bearer <token>` when set

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise RegistrationError(
                "name: expected 1-128 letters, digits, '.', '_', ':' or '-' starting with a "
                f"letter or digit, got {self.name!r}"
            )
        if not 1 <= self.capacity <= INT64_MAX:
            raise RegistrationError(f"capacity: expected a positive integer, got {self.capacity}")
        if self.url:
            check_worker_url(self.url)
        if not 0 <= self.price_per_unit <= INT64_MAX:
            raise RegistrationError(
                f"price_per_unit: expected an int64 >= 0, got {self.price_per_unit}"
            )
        if not 1 <= self.price_scaling <= INT64_MAX:
            raise RegistrationError(
                f"price_scaling: expected a positive int64 (0 means 1), got {self.price_scaling}"
            )
        if not _CURRENCY.match(self.currency):
            raise RegistrationError(f"currency: expected a currency code, got {self.currency!r}")

    @property
    def price(self) -> Price:
        """Per second of compute; eth is converted here, other currencies by the price book."""
        amount = Fraction(self.price_per_unit, self.price_scaling)
        currency = self.currency.upper()
        if currency == "ETH":
            return Price(amount * WEI_PER_ETH)
        return Price(amount, currency)


def check_worker_url(url: str) -> str:
    """http(s)://host[:port][/path] without query or fragment."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 (raises ValueError for a port that is not 0-65535)
    except ValueError:
        raise RegistrationError(f"url: bad port in {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RegistrationError(f"url: expected http://host:port of the worker, got {url!r}")
    if parts.query or parts.fragment:
        raise RegistrationError(f"url: expected no query or fragment, got {url!r}")
    return url


def _field(doc: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    value = doc.get(name, default)
    if value is None:
        return default
    # NOTE: JSON true/false are ints to Python; go's decoder refuses them for int64 fields.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = "an integer" if kind is int else "a string"
        raise RegistrationError(f"{name}: expected {expected}, got {value!r}")
    return value


def parse_registration(body: bytes) -> Registration:
    """The JSON a worker posts; raises RegistrationError naming what is wrong."""
    if len(body) > MAX_REGISTRATION_BYTES:
        raise RegistrationError(f"body: expected at most {MAX_REGISTRATION_BYTES} bytes of JSON")
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RegistrationError(f"body: expected a JSON object, got invalid JSON ({err})") from None
    if not isinstance(doc, dict):
        raise RegistrationError(f"body: expected a JSON object, got {type(doc).__name__}")
    if "name" not in doc or "url" not in doc:
        raise RegistrationError("body: expected the fields 'name' and 'url'")
    url = _field(doc, "url", str, "").rstrip("/")
    if not url:
        raise RegistrationError("url: expected http://host:port of the worker, got ''")
    return Registration(
        name=_field(doc, "name", str, ""),
        capacity=_field(doc, "capacity", int, 1),
        url=url,
        price_per_unit=_field(doc, "price_per_unit", int, 0),
        price_scaling=_field(doc, "price_scaling", int, 0) or 1,
        currency=_field(doc, "currency", str, "") or WEI,
        description=_field(doc, "description", str, ""),
        token=_field(doc, "token", str, ""),
    )
