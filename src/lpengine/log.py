"""Logging with context keys: every record carries the request id, session and sender in scope.

with log_context(request_id="abc", sender="0x12..."):
    log.info("paid")  # -> ... request_id=abc sender=0x12... paid
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar

CONTEXT_KEYS = ("request_id", "session", "sender")

_context: ContextVar[dict[str, str]] = ContextVar("lpengine_log_context", default={})  # noqa: B039


@contextlib.contextmanager
def log_context(**keys: str | None) -> Iterator[None]:
    """Adds keys (request_id, session, sender) to every record logged in this context."""
    unknown = set(keys) - set(CONTEXT_KEYS)
    if unknown:
        raise ValueError(f"log_context: expected keys among {CONTEXT_KEYS}, got {sorted(unknown)}")
    merged = {**_context.get(), **{k: v for k, v in keys.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the current context keys onto the record (as attributes and one `context` string)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _context.get()
        for key in CONTEXT_KEYS:
            setattr(record, key, ctx.get(key, ""))
        record.context = "".join(f" {k}={ctx[k]}" for k in CONTEXT_KEYS if k in ctx)
        return True


FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"


def setup_logging(level: str | int = "INFO") -> None:
    """Configures the `lpengine` logger once: context keys in every line, on stderr."""
    logger = logging.getLogger("lpengine")
    logger.setLevel(level if isinstance(level, int) else level.upper())
    if not any(getattr(h, "_lpengine", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.addFilter(ContextFilter())
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._lpengine = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False


# go-livepeer's -v is a glog verbosity: 6 and up logs request details, 3 is the usual level.
_verbosity = 3


def level_for_verbosity(verbosity: int) -> str:
    return "DEBUG" if verbosity >= 6 else "INFO" if verbosity >= 3 else "WARNING"


def set_verbosity(verbosity: int) -> None:
    """Sets the `lpengine` log level from a go-style verbosity (-v, /setLogLevel)."""
    global _verbosity
    if verbosity < 0:
        raise ValueError(f"verbosity: expected >= 0, got {verbosity}")
    _verbosity = verbosity
    logging.getLogger("lpengine").setLevel(level_for_verbosity(verbosity))


def verbosity() -> int:
    return _verbosity
