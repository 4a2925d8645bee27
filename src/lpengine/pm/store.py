"""The payments database: one SQLite file (WAL, synchronous=FULL), one writer thread.

Single-writer discipline: only the writer thread writes, in batches (group commit). Callers
`submit` statements and go on; `commit()` blocks until everything submitted so far is in a
committed, fsync'd transaction. Statements submitted with a `key` are coalesced (the last one
per key wins), so a balance updated a thousand times between two commits is written once.
Batches without a waiting caller linger `linger_s` to grow, which bounds the fsync rate.

A lock file keeps a second process from opening the same database for writing; the kernel drops
it when the holder dies, even by SIGKILL.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DB_FILE = "lpdb.sqlite3"
DB_VERSION = 1

_KV_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS kv (
    key STRING PRIMARY KEY,
    value STRING,
    updatedAt STRING DEFAULT CURRENT_TIMESTAMP
);
INSERT OR IGNORE INTO kv(key, value) VALUES('dbVersion', '{DB_VERSION}');
"""

Row = Sequence[Any]
LazyRow = Callable[[], Row | None]
"""Parameters computed by the writer when it writes: a coalesced row is built once, not per
update. None skips the statement."""
Job = tuple[str, LazyRow]
"""A keyed statement a caller builds once and resubmits (see `Store.submit_job`)."""


class StoreError(RuntimeError):
    """The database could not be written; nothing after this is durable."""


class Store:
    def __init__(self, path: Path, *, linger_s: float = 0.02) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._linger_s = linger_s
        self._lock_fd = _lock_exclusive(path.with_name(path.name + ".lock"))
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise StoreError(f"{path}: could not switch to WAL (journal_mode={mode})")
        # NOTE: FULL makes every COMMIT fsync the WAL; a winning ticket is never acknowledged
        # before that returns.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_KV_SCHEMA)
        self._conn_lock = threading.Lock()
        self._cond = threading.Condition(threading.Lock())
        self._ops: list[tuple[str, Row]] = []
        self._keyed: dict[Hashable, tuple[str, Row | LazyRow]] = {}
        self._submitted = 0
        self._committed = 0
        self._waiting = 0
        self._idle = False  # the writer sleeps until there is work: only then wake it
        self._closing = False
        self._error: BaseException | None = None
        self._writer = threading.Thread(target=self._run, name="lpengine-pm-store", daemon=True)
        self._writer.start()

    def ensure_schema(self, script: str) -> None:
        """Runs CREATE … IF NOT EXISTS statements (each component owns its tables)."""
        with self._conn_lock:
            self._conn.executescript(script)

    def read(self, sql: str, params: Row = ()) -> list[tuple[Any, ...]]:
        """Rows of a query over committed data."""
        with self._conn_lock:
            return self._conn.execute(sql, params).fetchall()

    def submit(self, sql: str, params: Row, *, key: Hashable | None = None) -> None:
        """Queues one statement for the next batch."""
        with self._cond:
            self._raise_if_failed()
            if key is None:
                self._ops.append((sql, params))
            else:
                self._keyed[key] = (sql, params)
            self._submitted += 1
            self._wake_if_idle()

    def submit_latest(self, key: Hashable, sql: str, params: LazyRow) -> None:
        """Queues a statement that replaces any pending one with the same key; its parameters
        are computed at write time (so the row holds the latest state)."""
        with self._cond:
            self._raise_if_failed()
            self._keyed[key] = (sql, params)
            self._submitted += 1
            self._wake_if_idle()

    def submit_job(self, key: Hashable, job: Job) -> None:
        """`submit_latest` for a caller that keeps one `job` (sql, lazy row) per key: a no-op
        while that very job is still pending, since the writer builds its row at write time.

        The caller changes its state before calling. The unlocked look-up is safe: if it sees
        the job, the writer has not yet taken the batch holding it (it takes the batch under the
        lock, then builds the rows), so the row it builds will hold this change.
        """
        if self._keyed.get(key) is job and self._error is None and not self._closing:
            return
        with self._cond:
            self._raise_if_failed()
            self._keyed[key] = job
            self._submitted += 1
            self._wake_if_idle()

    def submit_many(self, sql: str, rows: Sequence[Row]) -> None:
        with self._cond:
            self._raise_if_failed()
            self._ops.extend((sql, row) for row in rows)
            self._submitted += 1
            self._wake_if_idle()

    def commit(self) -> None:
        """Returns once everything submitted before the call is committed and fsync'd."""
        with self._cond:
            self._raise_if_failed()
            target = self._submitted
            if self._committed >= target:
                return
            self._waiting += 1
            self._cond.notify_all()
            try:
                while self._committed < target:
                    if self._error is not None:
                        raise StoreError(f"{self.path}: the writer failed") from self._error
                    self._cond.wait()
            finally:
                self._waiting -= 1

    def close(self) -> None:
        """Commits what is pending, stops the writer, closes the file and drops the lock."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        self._writer.join()
        with self._conn_lock:
            self._conn.close()
        os.close(self._lock_fd)
        if self._error is not None:
            raise StoreError(f"{self.path}: pending writes were lost") from self._error

    def _wake_if_idle(self) -> None:
        # NOTE: waking a lingering writer on every submit would hand it the GIL each time;
        # a lingering writer is woken by commit() and close() only.
        if self._idle:
            self._idle = False
            self._cond.notify_all()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise StoreError(f"{self.path}: the writer failed") from self._error
        if self._closing:
            raise StoreError(f"{self.path}: the store is closed")

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._ops or self._keyed or self._closing):
                    self._idle = True
                    self._cond.wait()
                self._idle = False
                deadline = time.monotonic() + self._linger_s
                while not (self._waiting or self._closing):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                ops, keyed = self._ops, list(self._keyed.values())
                self._ops, self._keyed = [], {}
                target = self._submitted
            if ops or keyed:
                try:
                    self._write(ops, keyed)
                except BaseException as e:
                    log.exception("payments database %s: write failed", self.path)
                    with self._cond:
                        self._error = e
                        self._cond.notify_all()
                    return
            with self._cond:
                self._committed = target
                if self._waiting:
                    self._cond.notify_all()
                if self._closing and not (self._ops or self._keyed):
                    return

    def _write(self, ops: list[tuple[str, Row]], keyed: list[tuple[str, Row | LazyRow]]) -> None:
        with self._conn_lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, run in groupby(ops, key=lambda op: op[0]):
                    conn.executemany(sql, [params for _, params in run])
                for sql, params in keyed:
                    row = params() if callable(params) else params
                    if row is not None:
                        conn.execute(sql, row)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise


def _lock_exclusive(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreError(f"{path}: the payments database is open in another process") from None
    return fd
