"""Fixtures for the HTTP service tests: in-process clients of apps built with chosen settings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from bench.peers import original
from gilfree import reference
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


@pytest.fixture(scope="module")
def plain() -> Iterator[TestClient]:
    """A client of the original example's plain FastAPI app (bench/peers/original.py) answering
    with the pure-Python reference kernel: the oracle of the differential tests."""
    app = original.create_app(reference.process_numbers)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    """Builds clients of apps whose settings override the defaults with the given fields."""
    with ExitStack() as stack:

        def make(**overrides: Any) -> TestClient:
            app = create_app(default_settings(**overrides))
            return stack.enter_context(TestClient(app))

        yield make


def asgi_post_scope(query_string: bytes, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """The ASGI scope of a POST /process-numbers, for tests that drive the app directly."""
    return asgi_scope("POST", "/process-numbers", query_string, headers)


def asgi_scope(
    method: str, path: str, query_string: bytes, headers: list[tuple[bytes, bytes]]
) -> dict[str, Any]:
    """The ASGI scope of a request, for tests that drive an app directly."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query_string,
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def asgi_request(
    app: Any, scope: dict[str, Any], body: bytes, gone: asyncio.Event | None = None
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Sends one request straight to ``app``: the whole ``body``, then a disconnect once ``gone``
    is set (never, without it). Returns the status, headers and body of the answer."""
    sent: list[Message] = []
    read = False

    async def receive() -> Message:
        nonlocal read
        if not read:
            read = True
            return {"type": "http.request", "body": body, "more_body": False}
        await (gone or asyncio.Event()).wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), content
