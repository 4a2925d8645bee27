"""RenditionStore: bounded in bytes (least recently used out first), optionally in time."""

from __future__ import annotations

import pytest

from lpengine.media import store as store_module
from lpengine.media.store import RenditionStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_least_recently_used_make_room():
    s = RenditionStore(max_bytes=10)
    assert s.put("a", b"1234") and s.put("b", b"1234")
    assert s.get("a") == b"1234"  # now b is the least recently used
    assert s.put("c", b"1234")
    assert (s.get("a"), s.get("b"), s.get("c")) == (b"1234", None, b"1234")
    assert (s.size_bytes, len(s), s.evicted) == (8, 2, 1)
    assert not s.put("big", b"x" * 11) and s.get("a") == b"1234"  # nothing dropped for it


def test_a_replaced_item_counts_once():
    s = RenditionStore(max_bytes=10)
    s.put("a", b"123456")
    s.put("a", b"12345678")
    assert (s.size_bytes, len(s), s.evicted) == (8, 1, 0)


def test_with_a_ttl_items_expire_after_it_even_when_read(monkeypatch: pytest.MonkeyPatch):
    clock = Clock()
    monkeypatch.setattr(store_module.time, "monotonic", clock)
    s = RenditionStore(max_bytes=100, ttl_s=600)
    s.put("a", b"1")
    clock.now += 300
    s.put("b", b"22")
    assert s.get("a") == b"1"
    clock.now += 300.5  # a is 600.5 s old, b 300.5 s
    assert (s.get("a"), s.get("b")) == (None, b"22")
    assert (s.size_bytes, len(s)) == (2, 1)
    s.put("b", b"333")  # stored again: its time starts over
    clock.now += 599
    assert s.get("b") == b"333"
    clock.now += 2
    assert s.get("b") is None and s.size_bytes == 0


@pytest.mark.parametrize(("max_bytes", "ttl_s"), [(0, None), (10, 0), (10, -1)])
def test_bad_bounds_are_refused(max_bytes: int, ttl_s: float | None):
    with pytest.raises(ValueError, match="expected > 0"):
        RenditionStore(max_bytes=max_bytes, ttl_s=ttl_s)
