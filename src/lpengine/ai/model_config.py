"""-aiModels: the models an operator wants served, in go-livepeer's aiModels.json format.

Either a JSON array of objects (a file path or inline JSON) or the short CSV form
`<pipeline>:<model_id>:<warm>,...` (protocol.md §11). Parsing validates every entry and names
the offending field; whether a model is then advertised depends on whether the engine can run it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from lpengine.capabilities import Capability, capability_for_pipeline
from lpengine.pricing import (
    DEFAULT_GATEWAY,
    WEI,
    Price,
    gateway_key,
    parse_positive_int,
    parse_price_amount,
)

_FIELDS = {
    "pipeline",
    "model_id",
    "warm",
    "capacity",
    "url",
    "token",
    "optimization_flags",
    "price_per_unit",
    "pixels_per_unit",
    "currency",
    "gateway",
}


@dataclass(frozen=True)
class AIModelConfig:
    pipeline: str
    model_id: str
    warm: bool = False
    capacity: int = 1
    url: str = ""  # an external runner; empty = managed by the engine
    token: str = field(default="", repr=False)
    optimization_flags: Mapping[str, Any] = field(default_factory=dict)
    price_per_unit: Fraction | None = None  # in `currency`; None: the base price
    pixels_per_unit: int | None = None  # None: the base -pixelsPerUnit
    currency: str = WEI  # WEI (eth is converted when parsed), or one a price feed converts
    gateway: str = DEFAULT_GATEWAY

    @property
    def capability(self) -> Capability:
        return capability_for_pipeline(self.pipeline)

    def price(self, base_pixels_per_unit: int = 1) -> Price | None:
        """The price per unit, or None when the model has no price of its own (it costs the
        base price)."""
        if self.price_per_unit is None:
            return None
        pixels = self.pixels_per_unit or base_pixels_per_unit
        return Price(self.price_per_unit / pixels, self.currency)


def parse_ai_models(value: str) -> tuple[AIModelConfig, ...]:
    """A path to a JSON file, inline JSON, or the CSV form."""
    text = value.strip()
    if not text:
        return ()
    if not text.startswith("[") and Path(text).is_file():
        text = Path(text).read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"aiModels: invalid JSON ({err})") from None
        if not isinstance(entries, list):
            raise ValueError("aiModels: expected a JSON array of model objects")
        return tuple(_entry(e, i) for i, e in enumerate(entries))
    return tuple(_csv_entry(part, i) for i, part in enumerate(text.split(",")))


def _csv_entry(part: str, index: int) -> AIModelConfig:
    fields = part.strip().split(":")
    if len(fields) != 3 or not fields[0] or not fields[1]:
        raise ValueError(f"aiModels[{index}]: expected <pipeline>:<model_id>:<warm>, got {part!r}")
    return _entry({"pipeline": fields[0], "model_id": fields[1], "warm": _bool(fields[2])}, index)


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"expected true or false, got {value!r}")


def _entry(entry: object, index: int) -> AIModelConfig:
    where = f"aiModels[{index}]"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected an object, got {entry!r}")
    unknown = set(entry) - _FIELDS
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}")
    try:
        pipeline = str(entry["pipeline"])
        model_id = str(entry["model_id"])
    except KeyError as err:
        raise ValueError(f"{where}: missing {err.args[0]!r}") from None
    try:
        capability_for_pipeline(pipeline)
    except ValueError as err:
        raise ValueError(f"{where}.{err}") from None
    if not model_id:
        raise ValueError(f"{where}.model_id: expected a model ID, got ''")
    try:
        warm = _bool(entry.get("warm", False))
    except ValueError as err:
        raise ValueError(f"{where}.warm: {err}") from None
    flags = entry.get("optimization_flags", {}) or {}
    if not isinstance(flags, dict):
        raise ValueError(f"{where}.optimization_flags: expected an object, got {flags!r}")
    price = _price(entry, where)
    return AIModelConfig(
        pipeline=pipeline,
        model_id=model_id,
        warm=warm,
        capacity=parse_positive_int(entry.get("capacity", 1), f"{where}.capacity"),
        url=str(entry.get("url", "") or ""),
        token=str(entry.get("token", "") or ""),
        optimization_flags=flags,
        price_per_unit=None if price is None else price[0],
        pixels_per_unit=_pixels(entry, where),
        currency=WEI if price is None else price[1],
        gateway=gateway_key(str(entry.get("gateway") or DEFAULT_GATEWAY)),
    )


def _pixels(entry: dict[str, Any], where: str) -> int | None:
    if "pixels_per_unit" not in entry:
        return None
    return parse_positive_int(entry["pixels_per_unit"], f"{where}.pixels_per_unit")


def _price(entry: dict[str, Any], where: str) -> tuple[Fraction, str] | None:
    """price_per_unit (+ currency): a JSON number, or a string such as '0.5'; eth -> wei, other
    currencies are kept for a price feed to convert."""
    if "price_per_unit" not in entry:
        return None
    raw, currency = entry["price_per_unit"], str(entry.get("currency") or "")
    what = f"{where}.price_per_unit"
    if isinstance(raw, str):
        return parse_price_amount(raw + currency, what)
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw >= 0:
        one, unit = parse_price_amount("1" + currency, what)
        return Fraction(str(raw)) * one, unit  # JSON numbers: exact
    raise ValueError(f"{what}: expected a number >= 0, got {raw!r}")
