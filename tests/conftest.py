"""Shared fixtures: the native pool restored to its default size after tests that resize it."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

import gilfree
from gilfree import _core
from gilfree._api import DEFAULT_INLINE_MAX_S


@pytest.fixture(autouse=True)
def default_pool() -> None:
    """Each test starts on a pool of the default size with no admission limit and the default
    inline threshold, whatever an earlier test (or an app's lifespan) configured: the pool belongs
    to the process."""
    stats = gilfree.executor_stats()
    if (
        stats["max_queued_cpu_s"] != math.inf
        or stats["threads"] != gilfree.build_info()["usable_cpus"]
        or _core.inline_max_s() != DEFAULT_INLINE_MAX_S
    ):
        gilfree.configure(None)


@pytest.fixture
def restore_threads() -> Iterator[None]:
    yield
    gilfree.configure(None)
