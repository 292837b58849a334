"""The app over a small corpus: rapidfuzz's top k as JSON, and a clear 422 for every input it
refuses (k out of range, q too long, a query string that is not UTF-8), never a 500."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from corpus import product_titles
from fastapi.testclient import TestClient
from rapidfuzz import fuzz

SIZE = 3000


@pytest.fixture(scope="module")
def app(fuzzy: ModuleType) -> ModuleType:
    return importlib.import_module("app")


@pytest.fixture(scope="module")
def client(app: ModuleType) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FUZZY_CORPUS_SIZE", str(SIZE))
        with TestClient(app.app) as client:
            yield client


@pytest.fixture(scope="module")
def titles() -> list[str]:
    return product_titles(SIZE)


def expected(titles: list[str], query: str, k: int) -> dict[str, Any]:
    scores = [fuzz.ratio(query, title) for title in titles]
    best = sorted(range(len(titles)), key=lambda i: (-scores[i], i))[:k]
    results = [{"index": i, "title": titles[i], "score": scores[i]} for i in best]
    return {"query": query, "k": k, "results": results}


@pytest.mark.parametrize(
    "query",
    ["cafe press", "Müller", "抹茶", "🎧", "Sakura 桜 Organic Bamboo Matcha Whisk 抹茶" * 3, ""],
)
def test_search_answers_rapidfuzz_s_top_k(
    client: TestClient, titles: list[str], query: str
) -> None:
    response = client.get("/search", params={"q": query, "k": 7})
    assert response.status_code == 200
    assert response.json() == expected(titles, query, 7)  # the scores survive JSON exactly


def test_k_defaults_to_10_and_may_be_1_to_1000(client: TestClient, titles: list[str]) -> None:
    assert client.get("/search", params={"q": "mug"}).json() == expected(titles, "mug", 10)
    assert client.get("/search", params={"q": "mug", "k": 1}).json() == expected(titles, "mug", 1)
    everything = client.get("/search", params={"q": "mug", "k": 1000}).json()
    assert everything == expected(titles, "mug", 1000)


@pytest.mark.parametrize(("k", "kind"), [(0, "greater_than_equal"), (1001, "less_than_equal")])
def test_k_out_of_range_is_422(client: TestClient, k: int, kind: str) -> None:
    response = client.get("/search", params={"q": "mug", "k": k})
    assert response.status_code == 422
    assert [(e["type"], e["loc"]) for e in response.json()["detail"]] == [(kind, ["query", "k"])]


def test_a_query_past_256_characters_is_422(client: TestClient, titles: list[str]) -> None:
    assert client.get("/search", params={"q": "é" * 256, "k": 2}).json() == expected(
        titles, "é" * 256, 2
    )
    response = client.get("/search", params={"q": "é" * 257})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["type"], error["loc"]) == ("string_too_long", ["query", "q"])
    assert "at most 256 characters" in error["msg"]


def test_combining_characters_count_as_characters(client: TestClient, titles: list[str]) -> None:
    # "e" and 200 combining acute accents is one glyph of 201 characters: searched as such.
    accented = "e" + "\u0301" * 200
    assert client.get("/search", params={"q": accented, "k": 3}).json() == expected(
        titles, accented, 3
    )
    response = client.get("/search", params={"q": "e" + "\u0301" * 300})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "string_too_long"


def test_a_missing_query_is_422(client: TestClient) -> None:
    response = client.get("/search")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "q"]


@pytest.mark.parametrize("escaped", ["%FF", "caf%E9", "%ED%A0%80", "%C3", "%F4%90%80%80"])
def test_a_query_that_is_not_utf8_is_422(client: TestClient, escaped: str) -> None:
    # Starlette alone would decode these to U+FFFD and search for it.
    response = client.get(f"/search?q={escaped}&k=3")
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", "q"]
    assert "not valid UTF-8" in error["msg"]
    assert error["input"] == escaped


def test_the_replacement_character_itself_is_a_query(client: TestClient, titles: list[str]) -> None:
    response = client.get("/search?q=%EF%BF%BD&k=2")
    assert response.json() == expected(titles, "\ufffd", 2)


async def _raw_get(app: Any, query_string: bytes) -> tuple[int, bytes]:
    """GET /search with the query string's bytes as they are (HTTP clients percent-encode)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/search",
        "raw_path": b"/search",
        "root_path": "",
        "query_string": query_string,
        "headers": [(b"host", b"test")],
        "server": ("test", 80),
        "client": ("test", 1234),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


def test_raw_bytes_in_the_query_string_are_422(app: ModuleType, client: TestClient) -> None:
    status, body = asyncio.run(_raw_get(app.app, "q=café".encode()))
    assert status == 422
    assert b"is not percent-encoded" in body


def test_the_page_is_served(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for element in ('id="q"', 'id="results"', 'id="status"', 'id="sent"', 'id="aborted"'):
        assert element in response.text
    assert "AbortController" in response.text
    assert "http:" not in response.text  # nothing external: no CDN, no fonts
    assert "https:" not in response.text
