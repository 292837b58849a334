"""The FastAPI application factory: routes, limits, offline docs and library-error mapping."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

import gilfree
from gilfree import INT64_MAX, INT64_MIN, wire
from gilfree.errors import Cancelled, DeadlineExceeded, GilfreeError, InvalidInput, Overloaded
from gilfree.server.docs import mount_offline_docs
from gilfree.server.limits import BodySizeLimit
from gilfree.server.metrics import RuntimeMetrics
from gilfree.server.routes import build_router
from gilfree.server.settings import Settings

__all__ = ["RETRY_AFTER_S", "create_app"]

RETRY_AFTER_S = 1
# How deep the fallback rendering of a 422 copies a refused input before it cuts the rest short.
_INPUT_DEPTH = 32

DESCRIPTION = """\
CPU-bound work in C++, off the GIL and off the event loop, on every core.

`/process-numbers-rust` and `/sum-squares-rust` are the original example's paths, kept for its
clients; they answer exactly as `/process-numbers` and `/sum-squares`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Builds the gilfree service; ``settings`` default to the ``GILFREE_*`` environment.

    Usable as ``uvicorn --factory gilfree.server:create_app``. Starting the app (its lifespan)
    starts the process's native executor with ``settings.threads`` workers and the
    ``max_queued_cpu_s`` admission limit; stopping it stops admission, gives admitted jobs
    ``shutdown_grace_s`` to finish, cancels the rest and joins the workers.
    """
    settings = settings if settings is not None else Settings()
    metrics = RuntimeMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threads = settings.threads or int(gilfree.build_info()["usable_cpus"])
        gilfree.configure(threads, max_queued_cpu_s=settings.queued_cpu_s_limit(threads))
        wire.set_buffer_cache_limit(settings.buffer_cache_bytes)
        if settings.tune_allocator:
            wire.tune_allocator()
        metrics.start()
        try:
            yield
        finally:
            metrics.stop()
            # Joining waits for the chunks in flight: done off the event loop.
            await asyncio.to_thread(gilfree.shutdown, settings.shutdown_grace_s)

    app = FastAPI(
        title="gilfree",
        version=gilfree.__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.include_router(build_router(settings, metrics))
    mount_offline_docs(app)
    _map_errors(app)
    _exact_int64_bounds(app)
    app.add_middleware(BodySizeLimit, max_body_bytes=settings.max_body_bytes)
    return app


def _exact_int64_bounds(app: FastAPI) -> None:
    """Puts int64's exact bounds back into the OpenAPI schema.

    FastAPI's OpenAPI models type ``minimum`` and ``maximum`` as floats, which turns 2**63 - 1 into
    2**63; a float bound equal to float(INT64_MAX) on a ``format: int64`` schema can only mean it.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        _restore_int64_bounds(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _restore_int64_bounds(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("format") == "int64":
            for key, exact in (("minimum", INT64_MIN), ("maximum", INT64_MAX)):
                if node.get(key) == float(exact):
                    node[key] = exact
        for child in node.values():
            _restore_int64_bounds(child)
    elif isinstance(node, list):
        for child in node:
            _restore_int64_bounds(child)


def _map_errors(app: FastAPI) -> None:
    """Maps validation failures and the library's errors to HTTP answers.

    - ``RequestValidationError``: FastAPI's own 422. Where FastAPI itself would fail to render it
      and answer 500 (a refused input holding NaN or Infinity, a lone UTF-16 surrogate, nesting
      too deep to encode), the same shape is rendered with those inputs made JSON-safe instead.
    - ``InvalidInput``: 422 in FastAPI's validation-error shape (routes that know which element was
      refused raise a RequestValidationError naming it; this catches the rest, located at the body).
    - ``Overloaded``: 503 with ``Retry-After``: the queue of admitted work is full, try again soon.
    - ``DeadlineExceeded``: 504: the request's deadline passed before its work finished.
    - ``Cancelled``: 503 with ``Retry-After``: the work was stopped by the service (shutting down);
      a client that went away itself never reads the answer, so 499 would tell nobody anything.
    - any other ``GilfreeError``: 500, a fault of the service, not of the request.
    """

    async def validation_failed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        try:
            return await request_validation_exception_handler(request, exc)
        except (ValueError, RecursionError):
            detail = _json_safe(exc.errors(), _INPUT_DEPTH)
            body = json.dumps({"detail": detail}, allow_nan=False, separators=(",", ":"))
            return Response(body, status_code=422, media_type="application/json")

    async def invalid_input(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InvalidInput)
        error = {"type": "value_error", "loc": ["body"], "msg": f"Value error, {exc.message}"}
        return JSONResponse({"detail": [error | {"input": None}]}, status_code=422)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc) or "the service cannot take this work now"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    async def deadline_exceeded(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc) or "the deadline passed"}, status_code=504)

    async def library_fault(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"internal error: {exc}"}, status_code=500)

    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(InvalidInput, invalid_input)
    app.add_exception_handler(Overloaded, unavailable)
    app.add_exception_handler(Cancelled, unavailable)
    app.add_exception_handler(DeadlineExceeded, deadline_exceeded)
    app.add_exception_handler(GilfreeError, library_fault)


def _json_safe(value: Any, depth: int) -> Any:
    """``value`` as plain JSON: non-finite floats as their JSON5 names, nesting cut at ``depth``."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value  # json.dumps (ensure_ascii) writes a lone surrogate as a \u escape
    if depth <= 0:
        return "..."
    if isinstance(value, dict):
        return {str(key): _json_safe(item, depth - 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item, depth - 1) for item in value]
    return str(value)
