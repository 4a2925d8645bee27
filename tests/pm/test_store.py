"""The payments database: durable commit, coalescing, one writer process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lpengine.pm.store import DB_FILE, Store, StoreError

TABLE = "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER);"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / DB_FILE, linger_s=60.0)  # only commit() or close() may flush
    s.ensure_schema(TABLE)
    return s


def other_connection(store: Store) -> sqlite3.Connection:
    return sqlite3.connect(store.path)


def test_commit_makes_everything_before_it_visible(store: Store) -> None:
    store.submit("INSERT INTO t VALUES(?, ?)", ("a", 1))
    store.submit_many("INSERT INTO t VALUES(?, ?)", [("b", 2), ("c", 3)])
    store.commit()
    assert other_connection(store).execute("SELECT count(*) FROM t").fetchone()[0] == 3
    assert store.read("SELECT v FROM t WHERE k = ?", ("b",)) == [(2,)]
    store.close()


def test_wal_and_full_sync(store: Store) -> None:
    assert store.read("PRAGMA journal_mode") == [("wal",)]
    assert store.read("PRAGMA synchronous") == [(2,)]  # FULL
    # NOTE: go's STRING columns have NUMERIC affinity in SQLite, so '1' reads back as 1.
    assert store.read("SELECT value FROM kv WHERE key = 'dbVersion'") == [(1,)]
    store.close()


def test_keyed_statements_coalesce_and_are_built_at_write_time(store: Store) -> None:
    state = {"v": 0}
    calls = []

    def row() -> tuple[object, ...]:
        calls.append(state["v"])
        return ("k", state["v"])

    for v in range(100):
        state["v"] = v
        store.submit_latest("k", "INSERT OR REPLACE INTO t VALUES(?, ?)", row)
    store.commit()
    assert calls == [99]  # one write, with the latest value
    assert store.read("SELECT v FROM t") == [(99,)]
    store.close()


def test_close_flushes_pending_work(tmp_path: Path) -> None:
    store = Store(tmp_path / DB_FILE, linger_s=60.0)
    store.ensure_schema(TABLE)
    store.submit("INSERT INTO t VALUES(?, ?)", ("a", 1))
    store.close()
    assert sqlite3.connect(tmp_path / DB_FILE).execute("SELECT v FROM t").fetchall() == [(1,)]
    with pytest.raises(StoreError, match="closed"):
        store.submit("INSERT INTO t VALUES(?, ?)", ("b", 2))


def test_a_second_writer_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="another process"):
        Store(store.path)
    store.close()
    Store(store.path).close()  # the lock went with the first store


def test_a_failed_write_is_loud(store: Store) -> None:
    store.submit("INSERT INTO missing_table VALUES(?)", (1,))
    with pytest.raises(StoreError, match="writer failed"):
        store.commit()
    with pytest.raises(StoreError):
        store.submit("INSERT INTO t VALUES(?, ?)", ("a", 1))
    with pytest.raises(StoreError, match="lost"):
        store.close()
