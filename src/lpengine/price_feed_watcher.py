"""The price feed watcher: reads a feed on a timer and re-converts every currency price.

As go-livepeer's `PriceFeedWatcher` + `AutoConvertedPrice`: the feed is read at start (a feed
that cannot be read then stops the node from starting) and every `interval_s` (go: hourly); a
newer reading re-converts every price set in a currency, so the next quote and charge use it. A
reading that cannot be used (unreadable feed, price <= 0, wrong pair) is logged and the last good
rate stays; a failed read is retried sooner (30 s, doubling, never past the interval), as go.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from lpengine.price_feed import PriceFeed, PriceFeedData, check_reading

log = logging.getLogger(__name__)

REFRESH_INTERVAL_S = 3600.0  # go's priceUpdatePeriod
RETRY_DELAY_S = 30.0  # go's priceUpdateBaseRetryDelay


class PriceFeedWatcher:
    """Calls `on_update(reading)` with each newer usable reading of `feed`.

    `on_update` may raise (e.g. PriceFeedError: the reading cannot convert a currency in use);
    the reading is then refused like any other bad one.
    """

    def __init__(
        self,
        feed: PriceFeed,
        on_update: Callable[[PriceFeedData], None],
        *,
        interval_s: float = REFRESH_INTERVAL_S,
        retry_delay_s: float = RETRY_DELAY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"price feed interval: expected > 0 s, got {interval_s}")
        self.feed = feed
        self._on_update = on_update
        self.interval_s = interval_s
        self._retry_delay_s = retry_delay_s
        self._clock = clock
        self.current: PriceFeedData | None = None
        self.last_error: str | None = None
        self.last_read_at: float | None = None
        self._failures = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, first: PriceFeedData | None = None) -> PriceFeedData:
        """The first reading (`first`, already applied by the caller, or read and applied
        here: raises what the feed or `on_update` raise), then the refresh loop in a daemon
        thread."""
        data = first
        if data is None:
            data = self.feed.latest()
            check_reading(data)
            self._on_update(data)
        self.current, self.last_read_at = data, self._clock()
        log.info(
            "price feed %s: %s = %s; read every %g s", self._name(), data.pair, data.price,
            self.interval_s,
        )  # fmt: skip
        self._thread = threading.Thread(target=self._run, name="lpengine-price-feed", daemon=True)
        self._thread.start()
        return data

    def refresh(self) -> bool:
        """Reads the feed once; True when a newer reading was applied. Never raises."""
        with self._lock:
            self.last_read_at = self._clock()
            try:
                data = self.feed.latest()
                check_reading(data)
                if self.current is not None and data.updated_at <= self.current.updated_at:
                    self._failures, self.last_error = 0, None
                    return False  # as go: only a newer round replaces the current one
                self._on_update(data)
            except Exception as err:  # any feed error: keep the last good rate
                self._failures += 1
                self.last_error = str(err) or type(err).__name__
                log.warning("price feed %s: keeping the last rate: %s", self._name(), err)
                return False
            self._failures, self.last_error = 0, None
            self.current = data
        log.info("price feed %s: %s = %s", self._name(), data.pair, data.price)
        return True

    def next_wait_s(self) -> float:
        """The interval, or the retry delay (doubling per failure) after a failed read."""
        if self._failures == 0:
            return self.interval_s
        retry_s: float = self._retry_delay_s * 2 ** min(self._failures - 1, 32)
        return min(self.interval_s, retry_s)

    def age_s(self) -> float | None:
        """Seconds since the current reading was published (None before the first)."""
        data = self.current
        return None if data is None else max(0.0, self._clock() - data.updated_at)

    def describe(self) -> dict[str, Any]:
        """The current rate and its age, for /status."""
        data = self.current
        return {
            "source": self._name(),
            "pair": None if data is None else data.pair,
            "price": None if data is None else str(data.price),
            "updated_at": None if data is None else data.updated_at,
            "age_s": self.age_s(),
            "last_read_at": self.last_read_at,
            "last_error": self.last_error,
            "interval_s": self.interval_s,
        }

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.next_wait_s()):
            self.refresh()

    def _name(self) -> str:
        return str(self.feed)
