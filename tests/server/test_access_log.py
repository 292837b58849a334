"""gilfree.server.access_log: uvicorn's access log lines, the same bytes, written cheaply."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from uvicorn.logging import AccessFormatter

from gilfree.server.access_log import FLUSH_S, UVICORN_ACCESS_FORMAT, BufferedAccessLog

ARGS = [
    ("127.0.0.1:50000", "GET", "/sum-squares?a=3&b=4", "1.1", 200),
    ("[::1]:9", "POST", "/process-numbers", "1.0", 413),
    ("10.0.0.1:1", "GET", "/x", "1.1", 499),  # no phrase: uvicorn writes "499 "
    ("10.0.0.1:1", "HEAD", "/", "1.1", 503),
]


def _logger(name: str, formatter: logging.Formatter, stream: io.StringIO) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers = []
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


@pytest.mark.parametrize("colours", [False, True])
def test_its_lines_are_uvicorns(colours: bool) -> None:
    formatter = AccessFormatter(UVICORN_ACCESS_FORMAT, use_colors=colours)
    loop = asyncio.new_event_loop()
    try:
        standard = io.StringIO()
        logger = _logger(f"test.access.{colours}", formatter, standard)
        fast = BufferedAccessLog.standing_in_for(logger, loop)
        assert fast is not None
        for args in ARGS:
            logger.info('%s - "%s %s HTTP/%s" %d', *args)
            assert standard.getvalue().splitlines()[-1] == fast.line(*args)
    finally:
        loop.close()


def test_lines_reach_the_stream_within_the_flush_interval() -> None:
    class Counting(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1

    async def log_three() -> tuple[str, int, int]:
        stream = Counting()
        logger = _logger("test.access.flush", AccessFormatter(UVICORN_ACCESS_FORMAT), stream)
        fast = BufferedAccessLog.standing_in_for(logger, asyncio.get_running_loop())
        assert fast is not None
        for args in ARGS[:3]:
            fast.info('%s - "%s %s HTTP/%s" %d', *args)
        before = stream.flushes
        await asyncio.sleep(FLUSH_S * 2)
        return stream.getvalue(), before, stream.flushes

    text, before, after = asyncio.run(log_three())
    assert len(text.splitlines()) == 3
    assert (before, after) == (0, 1)  # one flush for the three lines


def test_any_other_configuration_keeps_uvicorns_logger() -> None:
    loop = asyncio.new_event_loop()
    try:
        stream = io.StringIO()
        custom = _logger("test.access.custom", AccessFormatter("%(client_addr)s"), stream)
        assert BufferedAccessLog.standing_in_for(custom, loop) is None
        plain = _logger("test.access.plain", logging.Formatter(), stream)
        assert BufferedAccessLog.standing_in_for(plain, loop) is None
        filtered = _logger("test.access.filtered", AccessFormatter(UVICORN_ACCESS_FORMAT), stream)
        filtered.addFilter(lambda record: True)
        assert BufferedAccessLog.standing_in_for(filtered, loop) is None
        quiet = _logger("test.access.quiet", AccessFormatter(UVICORN_ACCESS_FORMAT), stream)
        quiet.setLevel(logging.WARNING)
        assert BufferedAccessLog.standing_in_for(quiet, loop) is None
    finally:
        loop.close()
