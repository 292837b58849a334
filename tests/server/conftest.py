"""Fixtures for the HTTP service tests: in-process clients of apps built with chosen settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gilfree.server import Settings, create_app

MakeClient = Callable[..., TestClient]


def default_settings(**overrides: Any) -> Settings:
    """The contract's defaults plus ``overrides``, whatever GILFREE_* variables the shell has."""
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    return Settings(**(defaults | overrides))


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """A client of the app with the contract's default limits, lifespan included."""
    with TestClient(create_app(default_settings())) as test_client:
        yield test_client


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    """Builds clients of apps whose settings override the defaults with the given fields."""
    with ExitStack() as stack:

        def make(**overrides: Any) -> TestClient:
            app = create_app(default_settings(**overrides))
            return stack.enter_context(TestClient(app))

        yield make
