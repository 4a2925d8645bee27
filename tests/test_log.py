from __future__ import annotations

import logging

import pytest

from lpengine.log import ContextFilter, log_context, setup_logging


def test_context_keys_reach_records(caplog):
    logger = logging.getLogger("lpengine.test")
    handler_filter = ContextFilter()
    caplog.handler.addFilter(handler_filter)
    with caplog.at_level(logging.INFO, logger="lpengine.test"):
        with log_context(request_id="r1", sender="0xabc"):
            with log_context(session="s9"):
                logger.info("inner")
            logger.info("outer")
        logger.info("none")
    inner, outer, none = caplog.records
    assert inner.context == " request_id=r1 session=s9 sender=0xabc"
    assert outer.context == " request_id=r1 sender=0xabc" and outer.session == ""
    assert none.context == ""


def test_unknown_context_key_is_rejected():
    with pytest.raises(ValueError, match="log_context"), log_context(user="x"):
        pass


@pytest.fixture
def restore_lpengine_logger():
    # setup_logging stops propagation to the root logger (where caplog listens): undo it after.
    logger = logging.getLogger("lpengine")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


@pytest.mark.usefixtures("restore_lpengine_logger")
def test_setup_is_idempotent():
    setup_logging("DEBUG")
    setup_logging("INFO")
    logger = logging.getLogger("lpengine")
    assert sum(getattr(h, "_lpengine", False) for h in logger.handlers) == 1
    assert logger.level == logging.INFO
