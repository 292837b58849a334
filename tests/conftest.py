"""Shared fixtures: the native pool restored to its default size after tests that resize it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import gilfree  # noqa: E402


@pytest.fixture
def restore_threads() -> Iterator[None]:
    yield
    gilfree.configure(None)
