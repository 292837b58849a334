"""FastAPI integration: any app becomes a gilfree app, and any route awaits any kernel.

``setup(app)`` gives an app the native runtime for its lifetime (a lifespan around the app's own),
the mapping of gilfree's errors to HTTP answers (503 with ``Retry-After``, 504, FastAPI's 422),
and ``/metrics`` and ``/healthz`` where the app wants them. A route then takes a runner::

    from gilfree.fastapi import Run, setup

    app = FastAPI()
    setup(app)

    @app.get("/scores")
    async def scores(words: list[str], run: Run) -> list[float]:
        return await run(mymodule.scores, words)

``await run(kernel, *args)`` awaits the kernel's job on the event loop (no Python thread waits),
cancels it when the client disconnects, gives it the request's deadline (``request_timeout_s``,
which an ``X-Request-Timeout`` header may shorten, never extend), and records the route's job in
``/metrics``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field, WithJsonSchema, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

import gilfree
from gilfree import aio, wire
from gilfree.errors import Cancelled, DeadlineExceeded, GilfreeError, InvalidInput, Overloaded
from gilfree.kernel import Kernel
from gilfree.metrics import PUBLISH_EVERY_S, RuntimeMetrics

__all__ = [
    "CLIENT_CLOSED_REQUEST",
    "FAST_PATH_DECLINED",
    "MIB",
    "QUEUED_CPU_S_PER_THREAD",
    "RETRY_AFTER_S",
    "WATCHED_CPU_S",
    "ClientDisconnected",
    "FastPath",
    "Run",
    "Runner",
    "RuntimeSettings",
    "fast_route",
    "map_errors",
    "runner",
    "setup",
    "until_disconnected",
]

MIB = 1024 * 1024
# Set to True in the scope of a request a fast path (fast_route) declined: a route that would
# offer the request to the same fast path again can skip it.
FAST_PATH_DECLINED = "gilfree.fast_path_declined"
# The default queue: this many seconds of work for every native thread, half the default deadline.
QUEUED_CPU_S_PER_THREAD = 30.0
RETRY_AFTER_S = 1
# Status for a request whose client went away before its answer (nginx's convention); nobody
# reads it, but access logs and metrics do.
CLIENT_CLOSED_REQUEST = 499
# Estimated CPU seconds above which a job is watched and cancelled if its client goes away.
# Below it the work lasts a couple of milliseconds of one core at most, less than a cancellation
# could save, while watching costs every request a task and a wait (~30 us of the loop's time).
WATCHED_CPU_S = 2e-3
# How deep the fallback rendering of a 422 copies a refused input before it cuts the rest short.
_INPUT_DEPTH = 32

T = TypeVar("T")
_log = logging.getLogger("gilfree")
# A fast path: a Response for the requests it takes, None for the rest (the app's routes answer).
FastPath = Callable[[Request], Awaitable[Response | None]]


class RuntimeSettings(BaseSettings):
    """The native runtime of an app, read from ``GILFREE_*`` environment variables (arguments win
    over the environment; an empty variable counts as unset)."""

    model_config = SettingsConfigDict(env_prefix="GILFREE_", env_ignore_empty=True, frozen=True)

    threads: int | None = Field(
        default=None,
        ge=1,
        description="Native worker threads in this process; None: the usable CPUs.",
    )
    pin_threads: bool | None = Field(
        default=None,
        description="Pin each native worker thread to one CPU (true), none (false), or, with"
        " None or `auto`, pin them when there is one worker for each CPU of the affinity mask"
        " (2 or more).",
    )
    max_queued_cpu_s: float | None = Field(
        default=None,
        gt=0,
        description="Estimated CPU seconds of work admitted but not finished, for every kernel"
        " alike; a request past it gets 503 (a request alone is always admitted). None:"
        f" {QUEUED_CPU_S_PER_THREAD:g} s per native thread. With `gilfree serve --workers N`, of"
        " the N processes together.",
    )
    request_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Deadline of a request's work in seconds; 504 when it passes.",
    )
    shutdown_grace_s: float = Field(
        default=10.0,
        ge=0,
        description="On shutdown, seconds admitted work gets to finish before it is cancelled.",
    )
    buffer_cache_bytes: int = Field(
        default=64 * MIB,
        ge=0,
        description="Bytes of large request and answer buffers kept for reuse between requests"
        " (0: none; with `gilfree serve --workers N`, of the N processes together).",
    )
    metrics_dir: Path | None = Field(
        default=None,
        description="A directory the processes of one service share: each publishes its metrics"
        " there and `/metrics` sums them all, whichever process answers (`gilfree serve"
        " --workers N` sets one). None: this process's own.",
    )
    tune_allocator: bool = Field(
        default=True,
        description="Pin glibc malloc's mmap and trim thresholds at startup (1 MiB, 8 MiB) so"
        " that mid-size per-request buffers are reused, not mapped afresh; the MALLOC_*_"
        " environment variables, when set, win.",
    )

    @field_validator("pin_threads", mode="before")
    @classmethod
    def _auto_pinning(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip().lower() == "auto" else value

    @field_validator("request_timeout_s", "shutdown_grace_s", "max_queued_cpu_s")
    @classmethod
    def _finite_seconds(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number of seconds")
        return value

    def queued_cpu_s_limit(self, threads: int) -> float:
        """``max_queued_cpu_s``, or its default for a pool of ``threads`` native threads."""
        if self.max_queued_cpu_s is not None:
            return self.max_queued_cpu_s
        return QUEUED_CPU_S_PER_THREAD * threads


@dataclass(frozen=True)
class _State:
    settings: RuntimeSettings
    metrics: RuntimeMetrics
    fast_paths: dict[tuple[str, str], FastPath]


class _Health(BaseModel):
    status: str


class AnswerWhenCancelled:
    """ASGI middleware (``setup`` adds it): a request whose task is cancelled before its answer
    started (the server's graceful shutdown ran out of time: uvicorn cancels what still runs,
    native jobs included, and would answer a plain 500) gets 503 with ``Retry-After`` and
    ``Connection: close`` instead, and the cancellation ends there."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            if started:
                raise
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_SHUTTING_DOWN)).encode()),
                        (b"retry-after", str(RETRY_AFTER_S).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _SHUTTING_DOWN})


_SHUTTING_DOWN = b'{"detail":"the service is shutting down: try again"}'


def setup(
    app: FastAPI,
    settings: RuntimeSettings | None = None,
    *,
    metrics_path: str | None = "/metrics",
    healthz_path: str | None = "/healthz",
) -> RuntimeMetrics:
    """Makes ``app`` a gilfree app; returns its metrics (a registry of its own).

    - Its lifespan, around the app's own (whatever it was given), starts the process's native
      runtime with ``settings`` (default: the ``GILFREE_*`` environment) and stops it at
      shutdown: admission ends, admitted jobs get ``shutdown_grace_s`` to finish, the rest are
      cancelled, the workers are joined. A request the server cancels at its own shutdown
      timeout gets 503 with ``Retry-After`` (``AnswerWhenCancelled``), not the server's 500.
    - gilfree's errors become HTTP answers: ``Overloaded`` and ``Cancelled`` 503 with
      ``Retry-After``, ``DeadlineExceeded`` 504, ``InvalidInput`` FastAPI's 422, any other
      ``GilfreeError`` 500; a client gone before its answer 499.
    - ``GET metrics_path`` serves Prometheus text and ``GET healthz_path`` ``{"status": "ok"}``
      (None: not served).
    """
    settings = settings if settings is not None else RuntimeSettings()
    metrics = RuntimeMetrics(settings.metrics_dir)
    app.state.gilfree = _State(settings, metrics, {})
    own = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        threads = settings.threads or int(gilfree.build_info()["usable_cpus"])
        gilfree.configure(
            threads,
            max_queued_cpu_s=settings.queued_cpu_s_limit(threads),
            pin_threads=settings.pin_threads,
        )
        wire.set_buffer_cache_limit(settings.buffer_cache_bytes)
        if settings.tune_allocator:
            wire.tune_allocator()
        metrics.start()
        publishing = asyncio.create_task(_publish(metrics)) if metrics.shared else None
        try:
            async with own(app) as state:
                yield state
        finally:
            metrics.stop()
            if publishing is not None:
                publishing.cancel()
                with suppress(asyncio.CancelledError):
                    await publishing
            # Joining waits for the chunks in flight: done off the event loop.
            await asyncio.to_thread(gilfree.shutdown, settings.shutdown_grace_s)

    app.router.lifespan_context = lifespan
    app.add_middleware(AnswerWhenCancelled)
    map_errors(app)
    if metrics_path is not None:

        @app.get(
            metrics_path,
            response_class=Response,
            summary="Prometheus metrics of the native runtime",
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
        )
        async def prometheus_metrics() -> Response:
            return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    if healthz_path is not None:

        @app.get(healthz_path, response_model=_Health, summary="Liveness probe")
        async def healthz() -> Response:
            return Response(b'{"status":"ok"}', media_type="application/json")

        async def fast_healthz(request: Request) -> Response:
            return await healthz()

        fast_route(app, "GET", healthz_path, fast_healthz)

    return metrics


async def _publish(metrics: RuntimeMetrics) -> None:
    """Publishes this process's metrics for the others of its service until cancelled, then a last
    time, marked stopped (its counters stay in the service's totals, its gauges leave them)."""
    assert metrics.shared is not None
    try:
        while True:
            try:
                metrics.shared.publish()
            except OSError as exc:  # the next round tries again; the scrape says why
                _log.warning("could not publish metrics to %s: %s", metrics.shared.directory, exc)
            await asyncio.sleep(PUBLISH_EVERY_S)
    finally:
        with suppress(OSError):
            metrics.shared.publish(live=False)


class _FastPaths:
    """The front of an app's router: a request whose method and path have a fast path is offered
    to it before the routes are matched; whatever it leaves (None) goes on to the routes."""

    def __init__(self, app: Any, paths: dict[tuple[str, str], FastPath]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            fast = self.paths.get((scope["method"], scope["path"]))
            if fast is not None:
                request = Request(scope, receive, send)
                response = await fast(request)
                if response is not None:
                    await response(scope, receive, send)
                    return
                scope[FAST_PATH_DECLINED] = True
                receive = _replaying(request)
        await self.app(scope, receive, send)


def _replaying(request: Request) -> Any:
    """The receive of a request a fast path declined: where it read the body, the body it kept
    in ``request._body`` (as Starlette's ``Request.body()`` keeps it) comes first, then what the
    client sends (its disconnect)."""
    if not getattr(request, "_stream_consumed", False):
        return request.receive
    body = getattr(request, "_body", None)
    if body is None:
        raise RuntimeError("a fast path that read the body and declined must keep it: _body")
    pending = [{"type": "http.request", "body": bytes(body), "more_body": False}]

    async def receive() -> Any:
        return pending.pop() if pending else await request.receive()

    return receive


def fast_route(app: FastAPI, method: str, path: str, fast: FastPath) -> None:
    """Offers every ``method path`` request of a gilfree app to ``fast`` before the app's routes
    are matched: the Response it returns is the answer; None leaves the request to the routes.

    For the requests the common case makes cheap (canonical query values, no unusual header),
    where FastAPI's routing and parameter solving cost more than the work; ``fast`` must answer
    exactly as the route would, and leave everything else to it; one that read the body and
    declines keeps it in ``request._body`` (``await request.body()`` does), and the route reads it
    again. The route sees ``scope[FAST_PATH_DECLINED]``. It runs inside the app's
    middleware and exception handlers (gilfree's errors are mapped as for any route), with no
    ``scope["route"]``; a ``root_path`` sends every request to the routes.
    """
    state = getattr(app.state, "gilfree", None)
    if not isinstance(state, _State):
        raise RuntimeError("fast_route needs a gilfree app: call gilfree.fastapi.setup(app) first")
    router = app.router
    if not isinstance(router.middleware_stack, _FastPaths):
        router.middleware_stack = _FastPaths(router.middleware_stack, state.fast_paths)
    state.fast_paths[(method.upper(), path)] = fast


def map_errors(app: FastAPI) -> None:
    """Maps validation failures and gilfree's errors to HTTP answers (``setup`` does it).

    - ``RequestValidationError``: FastAPI's own 422. Where FastAPI itself would fail to render it
      and answer 500 (a refused input holding NaN or Infinity, a lone UTF-16 surrogate, nesting
      too deep to encode), the same shape is rendered with those inputs made JSON-safe instead.
    - ``InvalidInput``: 422 in FastAPI's validation-error shape, located at the body (a route that
      knows which element was refused raises a RequestValidationError naming it).
    - ``Overloaded``: 503 with ``Retry-After``: the queue of admitted work is full, try again soon.
    - ``DeadlineExceeded``: 504: the request's deadline passed before its work finished.
    - ``Cancelled``: 503 with ``Retry-After``: the work was stopped by the service (shutting down);
      a client that went away itself never reads the answer, so 499 would tell nobody anything.
    - ``ClientDisconnected``: 499, for the access log.
    - ``MemoryError`` (no memory for a request's buffers): 503 with ``Retry-After``.
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

    async def disconnected(request: Request, exc: Exception) -> Response:
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    async def out_of_memory(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": "the service has no memory for this request now: try again"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    async def library_fault(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"internal error: {exc}"}, status_code=500)

    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(InvalidInput, invalid_input)
    app.add_exception_handler(Overloaded, unavailable)
    app.add_exception_handler(Cancelled, unavailable)
    app.add_exception_handler(DeadlineExceeded, deadline_exceeded)
    app.add_exception_handler(ClientDisconnected, disconnected)
    app.add_exception_handler(GilfreeError, library_fault)
    app.add_exception_handler(MemoryError, out_of_memory)


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


class ClientDisconnected(Exception):  # noqa: N818 - an event, not an error of ours
    """The client closed the connection before its answer was ready (answered 499)."""


async def _disconnected(request: Request) -> None:
    # The body has been read, so the next ASGI message can only be the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def until_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Awaits ``work``, cancelling it (and so its native jobs) if the client goes away first:
    ``ClientDisconnected`` then. The request's body must have been read."""
    job = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((job, watcher), return_when=asyncio.FIRST_COMPLETED)
        if job.done():
            return job.result()
        raise ClientDisconnected
    finally:
        watcher.cancel()
        job.cancel()


class Runner:
    """Awaits kernels' jobs for one request: with its deadline, cancelled if its client goes away,
    recorded under its route in ``/metrics``. Routes get one through ``Run``."""

    def __init__(self, request: Request, timeout_s: float, metrics: RuntimeMetrics | None) -> None:
        self.request = request
        self.timeout_s = timeout_s
        self._metrics = metrics
        route = request.scope.get("route")
        self.route = str(getattr(route, "path", None) or request.scope["path"])

    @classmethod
    def of(cls, request: Request, timeout_s: float | None = None) -> Runner:
        """The runner of ``request`` in a gilfree app, with the app's deadline or ``timeout_s``
        (for code that reads a request's deadline itself, as a fast path before FastAPI's own
        handling does)."""
        state = _state(request)
        return cls(request, timeout_s or state.settings.request_timeout_s, state.metrics)

    async def __call__(self, kernel: Kernel, /, *args: Any, **kwargs: Any) -> Any:
        """``kernel(*args, **kwargs)`` as a job of this request; its result, or its failure as
        ``setup`` maps it (503, 504, 422, 499)."""
        return await self.wait(aio.submit(kernel, *args, timeout=self.timeout_s, **kwargs))

    async def wait(self, job: aio.Job) -> Any:
        """Awaits a job this request submitted itself (``aio.submit`` with ``self.timeout_s``): a
        job estimated above ``WATCHED_CPU_S`` is cancelled if the client goes away first."""
        started = time.perf_counter()
        outcome = "disconnected"
        try:
            if not job.done and job.estimated_cpu_s > WATCHED_CPU_S:
                return await until_disconnected(self.request, job)
            return await job
        finally:
            if job.done:
                outcome = job.status
            if self._metrics is not None:
                self._metrics.observe_route(
                    self.route, job.kernel, outcome, time.perf_counter() - started
                )


def _state(request: Request) -> _State:
    state = getattr(request.app.state, "gilfree", None)
    if not isinstance(state, _State):
        raise RuntimeError("this app is not a gilfree app: call gilfree.fastapi.setup(app) first")
    return state


async def runner(
    request: Request,
    x_request_timeout: Annotated[
        float | None,
        Header(gt=0, description="Seconds; shortens the request's deadline, never extends it."),
        # A header is absent or a number: `null` is not a value it can take.
        WithJsonSchema({"type": "number", "exclusiveMinimum": 0}),
    ] = None,
) -> Runner:
    """The dependency behind ``Run``: a ``Runner`` for this request."""
    timeout_s = _state(request).settings.request_timeout_s
    if x_request_timeout is not None:
        timeout_s = min(timeout_s, x_request_timeout)
    return Runner.of(request, timeout_s)


# A route parameter: ``run: Run`` gives the route this request's Runner.
Run = Annotated[Runner, Depends(runner)]
