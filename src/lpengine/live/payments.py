"""Live payments: a stream pays for the time it runs (protocol.md §7.6).

1280 x 720 x 30 = 27,648,000 units per second of stream, debited from the stream's own balance
(key = its manifest id) at most every 5 s, when input arrives; the fraction of a unit left over
is carried to the next debit. A balance that goes below zero stops the stream.

A stream pays the price it started with to the end: its balance pins that price, and the
gateway's tickets carry it. So a stream may switch (`lpengine.live.reload`) only to a model that
costs its gateway no more per unit than the model it started with (`switch_price_check`);
switching to a dearer one is refused, since it would be served at the cheaper price.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction

from lpengine.capabilities import Capability
from lpengine.price_feed import PriceFeedError
from lpengine.pricing import PriceBook

UNITS_PER_SECOND = 1280 * 720 * 30
PAYMENT_INTERVAL_S = 5.0


class LivePayments:
    """`debit(units)` takes units from the stream's balance and returns what is left (wei)."""

    def __init__(
        self,
        debit: Callable[[int], Fraction],
        interval_s: float = PAYMENT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._debit = debit
        self.interval_s = interval_s
        self._clock = clock
        self._last = clock()
        self._carry = Fraction(0)
        self.debited_units = 0
        self.balance: Fraction | None = None

    def due(self) -> bool:
        return self._clock() - self._last >= self.interval_s

    def charge(self) -> Fraction:
        """Debits the time since the last charge; returns the balance left."""
        now = self._clock()
        exact = Fraction(UNITS_PER_SECOND) * Fraction(now - self._last) + self._carry
        units = int(exact)
        self._carry = exact - units
        self._last = now
        self.debited_units += units
        self.balance = self._debit(units)
        return self.balance


def switch_price_check(prices: PriceBook, gateway: str, start_model: str) -> Callable[[str], None]:
    """What a stream of `gateway` (its price key) started on `start_model` checks before it
    switches to another model: ValueError when that one costs the gateway more per unit now.
    Both prices are read at the same moment, so feed readings and price changes weigh alike."""
    cap = int(Capability.LIVE_VIDEO_TO_VIDEO)

    def check(model_id: str) -> None:
        try:
            wanted = prices.price(gateway, [(cap, model_id)])
            paying = prices.price(gateway, [(cap, start_model)])
        except (PriceFeedError, KeyError) as err:
            raise ValueError(f"model_id: no price for {model_id} now: {err}") from None
        if wanted > paying:
            raise ValueError(
                f"model_id: {model_id} costs {float(wanted):.6g} wei per unit, more than the "
                f"{float(paying):.6g} this stream pays for {start_model}: start a stream of "
                f"{model_id} instead"
            )

    return check
