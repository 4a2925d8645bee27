"""The watcher: every newer reading re-converts the prices; a bad one keeps the last rate."""

from __future__ import annotations

import logging
import threading
from fractions import Fraction

import pytest

from lpengine.price_feed import WEI_PER_ETH, PriceFeedData
from lpengine.price_feed_watcher import PriceFeedWatcher
from lpengine.pricing import DEFAULT_GATEWAY, Price, PriceBook, PriceInfo


class ScriptedFeed:
    """Answers its readings in turn (an Exception is raised); the last one repeats."""

    def __init__(self, *answers: PriceFeedData | Exception) -> None:
        self.answers = list(answers)
        self.reads = 0
        self.read_twice = threading.Event()

    def latest(self) -> PriceFeedData:
        self.reads += 1
        if self.reads >= 2:
            self.read_twice.set()
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def __str__(self) -> str:
        return "scripted"


def eth_usd(price: int, at: float) -> PriceFeedData:
    return PriceFeedData("ETH", "USD", Fraction(price), at)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def watched(*answers: PriceFeedData | Exception, **kwargs):
    feed = ScriptedFeed(*answers)
    book = PriceBook(Price.parse("1USD"), feed=feed.latest())
    clock = Clock(1000.0)
    watcher = PriceFeedWatcher(feed, book.set_feed, clock=clock, **kwargs)
    watcher.start(book.feed)
    return watcher, book, clock


def usd_quote(book: PriceBook) -> Fraction:
    return book.quote(DEFAULT_GATEWAY).wei_per_unit


def test_a_newer_reading_changes_the_quote():
    watcher, book, clock = watched(eth_usd(2000, 900.0), eth_usd(2500, 1900.0))
    try:
        assert usd_quote(book) == WEI_PER_ETH // 2000
        clock.now = 2000.0
        assert watcher.describe()["age_s"] == 1100.0
        assert watcher.refresh()
        assert usd_quote(book) == WEI_PER_ETH // 2500
        doc = watcher.describe()
        assert (doc["pair"], doc["price"], doc["age_s"], doc["last_error"]) == (
            "ETH/USD", "2500", 100.0, None,
        )  # fmt: skip
        assert not watcher.refresh()  # the same round again: nothing to do
    finally:
        watcher.stop()


@pytest.mark.parametrize(
    "bad,why",
    [
        (eth_usd(0, 1900.0), "price 0 is not positive"),
        (eth_usd(-3, 1900.0), "price -3 is not positive"),
        (PriceFeedData("ETH", "EUR", Fraction(1800), 1900.0), "cannot convert USD"),
        (PriceFeedData("BTC", "USD", Fraction(1800), 1900.0), "ETH on exactly one side"),
        (ConnectionError("node unreachable"), "node unreachable"),
    ],
)
def test_a_bad_reading_keeps_the_last_good_rate(bad, why, caplog, monkeypatch):
    # NOTE: setup_logging (run by other tests) stops `lpengine` records at its own handler.
    monkeypatch.setattr(logging.getLogger("lpengine"), "propagate", True)
    watcher, book, _ = watched(eth_usd(2000, 900.0), bad, eth_usd(4000, 2900.0))
    try:
        with caplog.at_level(logging.WARNING, logger="lpengine"):
            assert not watcher.refresh()
        assert usd_quote(book) == WEI_PER_ETH // 2000
        assert why in watcher.describe()["last_error"] and why in caplog.text
        assert "keeping the last rate" in caplog.text
        assert watcher.next_wait_s() == 30.0  # retried sooner, as go
        assert watcher.refresh() and usd_quote(book) == WEI_PER_ETH // 4000
        assert watcher.describe()["last_error"] is None and watcher.next_wait_s() == 3600.0
    finally:
        watcher.stop()


def test_retries_back_off_up_to_the_interval():
    watcher, _, _ = watched(eth_usd(2000, 900.0), RuntimeError("down"), interval_s=100.0)
    try:
        waits = []
        for _ in range(4):
            watcher.refresh()
            waits.append(watcher.next_wait_s())
        assert waits == [30.0, 60.0, 100.0, 100.0]
    finally:
        watcher.stop()


def test_the_loop_reads_the_feed_on_its_interval():
    feed = ScriptedFeed(eth_usd(2000, 1.0), eth_usd(3000, 2.0))
    book = PriceBook(Price.parse("1000"))  # start() reads and applies the first reading
    with pytest.raises(ValueError, match="interval"):
        PriceFeedWatcher(feed, book.set_feed, interval_s=0)
    watcher = PriceFeedWatcher(feed, book.set_feed, interval_s=0.001)
    book_before = book.feed
    assert watcher.start() == eth_usd(2000, 1.0) and book_before is None
    try:
        assert feed.read_twice.wait(10)  # the loop's first tick
    finally:
        watcher.stop()
    assert book.feed == eth_usd(3000, 2.0) and watcher.current == eth_usd(3000, 2.0)


def test_start_refuses_a_feed_it_cannot_use():
    book = PriceBook(Price.parse("1USD"), feed=eth_usd(2000, 1.0))
    watcher = PriceFeedWatcher(ScriptedFeed(eth_usd(0, 2.0)), book.set_feed)
    with pytest.raises(ValueError, match="not positive"):
        watcher.start()
    assert book.quote(DEFAULT_GATEWAY) == PriceInfo(WEI_PER_ETH // 2000, 1)
