"""The FastAPI application factory: gilfree's service, built on gilfree.fastapi as any app is."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

import gilfree
from gilfree import INT64_MAX, INT64_MIN
from gilfree.fastapi import RETRY_AFTER_S, setup
from gilfree.server.docs import mount_offline_docs
from gilfree.server.limits import BodySizeLimit
from gilfree.server.routes import (
    SUM_SQUARES_PATHS,
    build_router,
    fast_process_numbers,
    fast_sum_squares,
)
from gilfree.server.settings import Settings

__all__ = ["RETRY_AFTER_S", "create_app"]

DESCRIPTION = """\
CPU-bound work in C++, off the GIL and off the event loop, on every core.

`/process-numbers-rust` and `/sum-squares-rust` are the original example's paths, kept for its
clients; they answer exactly as `/process-numbers` and `/sum-squares`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Builds the gilfree service; ``settings`` default to the ``GILFREE_*`` environment.

    Usable as ``uvicorn --factory gilfree.server:create_app``. It is a gilfree app
    (``gilfree.fastapi.setup``): its lifespan starts the process's native executor with
    ``settings.threads`` workers and the ``max_queued_cpu_s`` admission limit and stops it at
    shutdown; gilfree's errors map to 503, 504 and 422; ``/metrics`` and ``/healthz`` are served.
    """
    settings = settings if settings is not None else Settings()
    app = FastAPI(
        title="gilfree",
        version=gilfree.__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = setup(app, settings)
    app.include_router(build_router(settings))
    fast_sum_squares(app, SUM_SQUARES_PATHS, settings.request_timeout_s)
    fast_process_numbers(app, settings)
    mount_offline_docs(app)
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
