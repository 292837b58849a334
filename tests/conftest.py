"""Shared fixtures: the native pool restored to its default size after tests that resize it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import gilfree

_UNLIMITED = 2**64 - 1


@pytest.fixture(autouse=True)
def default_pool() -> None:
    """Each test starts on a pool of the default size with no admission limit, whatever an earlier
    test (or an app's lifespan) configured: the pool belongs to the process."""
    stats = gilfree.executor_stats()
    if (
        stats["max_queued_work"] != _UNLIMITED
        or stats["threads"] != gilfree.build_info()["usable_cpus"]
    ):
        gilfree.configure(None)


@pytest.fixture
def restore_threads() -> Iterator[None]:
    yield
    gilfree.configure(None)
