from __future__ import annotations

import pytest

from lpengine.sessions import (
    AUTO,
    DEFAULT_SESSION_PIXEL_RATE,
    OrchestratorCapped,
    Sessions,
    parse_max_sessions,
)


def test_limit_open_end():
    s = Sessions(2)
    s.open("a")
    s.open("a")  # idempotent
    s.open("b")
    assert s.count == 2 and s.full()
    with pytest.raises(OrchestratorCapped, match="OrchestratorCapped"):
        s.open("c")
    s.check_capacity("a")  # an open session always fits
    with pytest.raises(OrchestratorCapped):
        s.check_capacity("c")
    assert s.end("a") and not s.end("a")
    s.open("c")
    assert s.is_open("c") and not s.is_open("a")


def test_limit_changes_live():
    s = Sessions(1)
    s.open("a")
    s.set_max_sessions(3)
    s.open("b")
    s.set_max_sessions(1)  # lowering never closes sessions, it only refuses new ones
    assert s.count == 2 and s.full()


def test_auto_follows_reported_capacity():
    s = Sessions(AUTO)
    assert s.limit == 0 and s.full()
    s.set_auto_capacity("local", 10)
    s.set_auto_capacity("remote-1", 4)
    assert s.limit == 14
    s.set_auto_capacity("remote-1", 0)  # a transcoder left
    assert s.limit == 10


@pytest.mark.parametrize("value,expected", [("auto", AUTO), ("7", 7), (3, 3)])
def test_parse_max_sessions(value, expected):
    assert parse_max_sessions(value) == expected


@pytest.mark.parametrize("value", ["0", "-1", "many", "", 0])
def test_parse_max_sessions_rejects(value):
    with pytest.raises(ValueError, match="maxSessions"):
        parse_max_sessions(value)


def test_a_pixel_rate_limit_follows_what_open_sessions_cost():
    rates: dict[str, float] = {}
    s = Sessions(10)
    s.set_pixel_rate_limit(3 * DEFAULT_SESSION_PIXEL_RATE, lambda: rates)
    assert s.limit == 3  # nothing measured yet: go's default ladder per session
    s.open("4k")
    rates["4k"] = 4 * DEFAULT_SESSION_PIXEL_RATE  # one expensive stream
    assert s.limit == 0 and s.full()
    with pytest.raises(OrchestratorCapped):
        s.open("next")
    rates["4k"] = DEFAULT_SESSION_PIXEL_RATE / 4  # cheap streams: the count caps it
    assert s.limit == 10
    rates["gone"] = 1.0  # sessions that are not open do not count
    assert s.pixel_rate_sessions() == 12
    s.set_pixel_rate_limit(0)
    assert s.pixel_rate_sessions() is None and s.limit == 10
    with pytest.raises(ValueError, match="maxPixelRate: expected >= 0"):
        s.set_pixel_rate_limit(-1)
