"""Search-as-you-type over a million product titles: a FastAPI app on gilfree's runtime.

``GET /search?q=...&k=10`` answers the k titles most like ``q`` by rapidfuzz's ``fuzz.ratio``
(the same scores, to the bit), best first, ties in corpus order::

    {"query": "cafe mug", "k": 2, "results": [
        {"index": 4711, "title": "Acme Naïve Café Press", "score": 62.857142857142854}, ...]}

The search runs as a native job on gilfree's workers (no Python thread waits for it) and is
cancelled when the client goes away, as the page's search-as-you-type does on every keystroke.
``GET /`` serves that page. The corpus is ``FUZZY_CORPUS_SIZE`` titles of ``corpus.py``
(default 1,000,000), built at startup.

Limits, all answered 422 in FastAPI's validation-error shape: ``k`` from 1 to ``fuzzy.MAX_K``
(1000); ``q`` at most ``fuzzy.MAX_QUERY_LENGTH`` (256) characters (code points, as Python counts
them: "e" and 300 combining accents is 301); the query string percent-encoded ASCII and every
value in it UTF-8 once decoded (Starlette alone would replace invalid bytes with U+FFFD and
search for that). An empty ``q`` is a query like any other: every non-empty title scores 0.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote_to_bytes

import fuzzy
from corpus import product_titles
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from pydantic import BaseModel

from gilfree.fastapi import Run, setup

DEFAULT_CORPUS_SIZE = 1_000_000
PAGE = Path(__file__).resolve().parent / "static" / "index.html"


def corpus_size() -> int:
    """``FUZZY_CORPUS_SIZE``, or the default when it is unset or empty."""
    text = os.environ.get("FUZZY_CORPUS_SIZE", "").strip()
    if not text:
        return DEFAULT_CORPUS_SIZE
    try:
        size = int(text)  # 1_000_000 too
    except ValueError:
        size = -1
    if size < 0:
        raise ValueError(f"FUZZY_CORPUS_SIZE must be a non-negative integer, got {text!r}")
    return size


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Inside gilfree's lifespan (setup composes it around this one): the titles are copied into
    # native memory once, and the Python list is dropped.
    app.state.corpus = fuzzy.Corpus(product_titles(corpus_size()))
    yield


app = FastAPI(title="fuzzy search", lifespan=lifespan)
setup(app)


class Hit(BaseModel):
    index: int
    title: str
    score: float


class Answer(BaseModel):
    query: str
    k: int
    results: list[Hit]


def utf8_query_string(request: Request) -> None:
    """422 unless the raw query string is percent-encoded ASCII whose values decode as UTF-8."""
    raw: bytes = request.scope.get("query_string", b"")
    for field in raw.split(b"&"):
        name, _, value = field.partition(b"=")
        label = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace")
        if not field.isascii():
            problem = "is not percent-encoded: a query string is ASCII (RFC 3986)"
        else:
            try:
                unquote_to_bytes(field.replace(b"+", b" ")).decode("utf-8")
                continue
            except UnicodeDecodeError:
                problem = "is not valid UTF-8 once percent-decoded"
        error = {
            "type": "value_error",
            "loc": ("query", label),
            "msg": f"Value error, query parameter {label!r} {problem}",
            "input": value.decode("ascii", "backslashreplace"),
        }
        raise RequestValidationError([error])


@app.get("/search", dependencies=[Depends(utf8_query_string)])
async def search(
    request: Request,
    run: Run,
    q: Annotated[
        str,
        Query(
            max_length=fuzzy.MAX_QUERY_LENGTH,
            description="The query; at most 256 characters (code points).",
        ),
    ],
    k: Annotated[int, Query(ge=1, le=fuzzy.MAX_K, description="Results wanted, 1 to 1000.")] = 10,
) -> Answer:
    """The k titles most like ``q`` by rapidfuzz's ``fuzz.ratio``, best first."""
    corpus: fuzzy.Corpus = request.app.state.corpus
    hits: list[tuple[int, float]] = await run(fuzzy.search, corpus, q, k)
    results = [Hit(index=i, title=corpus[i], score=score) for i, score in hits]
    return Answer(query=q, k=k, results=results)


@app.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(PAGE, media_type="text/html")
