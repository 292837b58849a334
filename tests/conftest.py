"""Shared fixtures: the native pool restored to its default size after tests that resize it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import gilfree


@pytest.fixture
def restore_threads() -> Iterator[None]:
    yield
    gilfree.configure(None)
