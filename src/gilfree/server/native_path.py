"""The native path of POST /process-numbers: request bytes to response bytes in C++.

The body is read into native memory and handed to one native job (``gilfree.wire``) that takes
the numbers, checks the limits, processes them and writes the answer; the event loop only awaits
it (through gilfree.fastapi's Runner, as any route does), and the answer's memory becomes the
response body without a copy. A JSON body the strict
parser does not take as canonical, and unusual query or header values, go to FastAPI's own
handler, so acceptance and error bodies are FastAPI's. Bodies of ``application/octet-stream``
(little-endian int64) are served here entirely, and so is a binary answer when ``Accept`` asks
for ``application/octet-stream``.
"""

from __future__ import annotations

import re
import sys
from array import array
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import Field, TypeAdapter, ValidationError
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from gilfree import aio, wire
from gilfree.fastapi import CLIENT_CLOSED_REQUEST, FAST_PATH_DECLINED, ClientDisconnected, Runner
from gilfree.server.http import EARLY_START
from gilfree.server.limits import content_length
from gilfree.server.settings import Settings
from gilfree.wire import NumbersFormat, RequestOutcome

__all__ = [
    "JSON",
    "OCTET_STREAM",
    "NativeBodyRoute",
    "binary_response",
    "make_fast_path",
    "too_many_numbers",
    "too_much_work",
    "wants_binary",
]

JSON = "application/json"
OCTET_STREAM = "application/octet-stream"
# What the fast path takes as is; anything else is left to FastAPI's validation. Decimals of up
# to _SAFE_DIGITS digits need no overflow check (10**18 - 1 < 2**63 - 1).
_SAFE_DIGITS = 18
_CANONICAL_INT = re.compile(rf"0|[1-9][0-9]{{0,{_SAFE_DIGITS - 1}}}")
_CANONICAL_SECONDS = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9})?")
_CANONICAL_QUERY = re.compile(rb"iterations=([0-9]{1,%d})" % _SAFE_DIGITS)
_JSON_BYTES = JSON.encode()
_OCTET_BYTES = OCTET_STREAM.encode()

FastPath = Callable[[Request], Awaitable[Response | None]]


def too_many_numbers(count: int, settings: Settings) -> HTTPException:
    return HTTPException(413, f"{count} numbers is more than max_numbers={settings.max_numbers}")


def too_much_work(count: int, iterations: int, settings: Settings) -> HTTPException:
    work = count * iterations
    return HTTPException(
        413,
        f"{count} numbers x {iterations} iterations = {work} units of work is more than"
        f" max_work={settings.max_work}",
    )


class NativeBodyRoute(APIRoute):
    """An APIRoute whose handler first offers the request to ``fast_path``; when that returns
    None, FastAPI's own handler (pydantic validation, the endpoint) answers. ``early_start``
    begins the fast path's work in the server, as soon as the body has arrived
    (gilfree.server.http.EarlyStart)."""

    fast_path: FastPath | None = None
    early_start: Callable[[Any, int], EarlyNumbers | None] | None = None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().get_route_handler()
        fast = type(self).fast_path
        if fast is None:
            return standard

        async def handler(request: Request) -> Response:
            if request.scope.get(FAST_PATH_DECLINED):  # declined already, ahead of the routes
                return await standard(request)
            response = await fast(request)
            return response if response is not None else await standard(request)

        return handler


class EarlyNumbers:
    """The native job of a canonical JSON request, submitted by the server once its body has
    arrived (gilfree.server.http.EarlyStart), for the fast path to take if its parameters are
    the ones it was started with; a job nobody takes is cancelled when this is dropped."""

    __slots__ = ("_body", "_declared", "_error", "_job", "_submit", "_taken", "parameters")

    def __init__(
        self,
        parameters: tuple[int, float, bool],
        declared: int,
        submit: Callable[[wire.RequestBody], aio.Job],
    ) -> None:
        self.parameters = parameters  # iterations, timeout (seconds), binary answer
        self._submit = submit
        self._declared = declared
        self._body: wire.RequestBody | None = wire.RequestBody(declared)
        self._job: aio.Job | None = None
        self._error: BaseException | None = None
        self._taken = False

    def append(self, chunk: bytes) -> None:
        if self._body is not None:
            self._body.append(chunk)
            if len(self._body) == self._declared:  # whole: the parser's end of message follows
                self.complete()

    def complete(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            try:
                self._job = self._submit(body)
            except Exception as exc:  # the route raises it, as it would have raised it itself
                self._error = exc

    def take(self) -> aio.Job | None:
        """The job (or what submitting it raised); None if it was not submitted."""
        self._taken = True
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._job

    def drop(self) -> None:
        """Cancels the job: the request's work is not this one after all."""
        self._taken = True
        if self._job is not None:
            self._job.cancel()

    def __del__(self) -> None:
        if not self._taken:
            self.drop()


def _media_type(value: str | None) -> str | None:
    return None if value is None else value.split(";", 1)[0].strip().lower()


def wants_binary(request: Request) -> bool:
    """Whether the client asks for the results as little-endian int64 (any request type)."""
    accept = request.headers.get("accept", "").lower()
    return OCTET_STREAM in accept and JSON not in accept


def binary_response(values: Any) -> Response:
    """int64 values as little-endian bytes: the values' own memory where the host is
    little-endian (no copy)."""
    if sys.byteorder == "little":
        return Response(memoryview(values).cast("B"), media_type=OCTET_STREAM)
    swapped = array("q", memoryview(values).cast("B"))
    swapped.byteswap()
    return Response(swapped.tobytes(), media_type=OCTET_STREAM)


def make_fast_path(settings: Settings, default_iterations: int) -> type[NativeBodyRoute]:
    """The route class of POST /process-numbers for ``settings``."""
    iterations_type: TypeAdapter[int] = TypeAdapter(
        Annotated[int, Field(ge=0, le=settings.max_iterations)]
    )
    timeout_type: TypeAdapter[float] = TypeAdapter(Annotated[float, Field(gt=0)])

    def validated(
        adapter: TypeAdapter[Any], value: str, loc: tuple[str, str], errors: list[Any]
    ) -> Any:
        """Validates a query or header value as FastAPI does; appends its errors, if any."""
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            errors.extend(
                {**error, "loc": (*loc, *error["loc"])} for error in exc.errors(include_url=False)
            )
            return None

    def canonical_iterations(request: Request) -> int | None:
        # The usual query (`iterations=N` alone) is read without parsing the whole query string.
        only = _CANONICAL_QUERY.fullmatch(request.scope.get("query_string", b""))
        values = [only[1].decode()] if only else request.query_params.getlist("iterations")
        if not values:
            return default_iterations
        if len(values) == 1 and _CANONICAL_INT.fullmatch(values[0]):
            value = int(values[0])
            if value <= settings.max_iterations:
                return value
        return None

    def canonical_timeout(request: Request) -> float | None:
        header = request.headers.getlist("x-request-timeout")
        if not header:
            return settings.request_timeout_s
        if len(header) == 1 and _CANONICAL_SECONDS.fullmatch(header[0]):
            value = float(header[0])
            if value > 0:
                return min(value, settings.request_timeout_s)
        return None

    def binary_parameters(request: Request) -> tuple[int, float]:
        """iterations and timeout of an octet-stream request, validated as FastAPI would (every
        bad parameter reported in one 422, the runner's header first, as FastAPI validates a
        dependency's parameters before the endpoint's)."""
        errors: list[Any] = []
        timeout_s = canonical_timeout(request)
        if timeout_s is None:
            raw = request.headers.getlist("x-request-timeout")[-1]
            header = validated(timeout_type, raw, ("header", "x-request-timeout"), errors)
            timeout_s = None if header is None else min(header, settings.request_timeout_s)
        iterations = canonical_iterations(request)
        if iterations is None:
            raw = request.query_params.getlist("iterations")[-1]
            iterations = validated(iterations_type, raw, ("query", "iterations"), errors)
        if errors or iterations is None or timeout_s is None:
            raise RequestValidationError(errors)
        declared = content_length(request.scope)
        if declared is not None and declared // 8 > settings.max_numbers:
            raise too_many_numbers(declared // 8, settings)  # before reading the body
        return iterations, timeout_s

    def partial_value(size: int) -> RequestValidationError:
        return RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body",),
                    "msg": "Value error, an application/octet-stream body holds"
                    f" little-endian int64 values: {size} bytes is not a multiple of 8",
                    "input": None,
                }
            ]
        )

    def json_parameters(request: Request) -> tuple[int, float, bool] | None:
        """iterations, timeout and binary answer of a JSON request the fast path takes as is."""
        iterations = canonical_iterations(request)
        timeout_s = canonical_timeout(request)
        if iterations is None or timeout_s is None:
            return None
        return iterations, timeout_s, wants_binary(request)

    def early_start(scope: Any, declared: int) -> EarlyNumbers | None:
        """The work of a JSON request the fast path would take, started as its body arrives.

        Read from the raw scope (the server calls it for every such request before the app
        runs): only the common form is started early, with the parameters json_parameters would
        find (a JSON body, no deadline header, no query or `iterations=N` alone, at most one
        Accept); the fast path takes the work only if they are the ones it finds.
        """
        if declared > settings.max_body_bytes:
            return None
        query = scope.get("query_string", b"")
        if not query:
            iterations = default_iterations
        else:
            only = _CANONICAL_QUERY.fullmatch(query)
            if only is None or not _CANONICAL_INT.fullmatch(only[1].decode()):
                return None
            iterations = int(only[1])
            if iterations > settings.max_iterations:
                return None
        media = accept = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                media = media or value  # the first one, as Headers.get reads it
            elif name == b"accept":
                if accept is not None:
                    return None
                accept = value.lower()
            elif name == b"x-request-timeout":
                return None
        if media is None or media.split(b";", 1)[0].strip().lower() != _JSON_BYTES:
            return None
        binary_out = accept is not None and _OCTET_BYTES in accept and _JSON_BYTES not in accept
        timeout_s = settings.request_timeout_s
        return EarlyNumbers(
            (iterations, timeout_s, binary_out),
            declared,
            lambda body: submit(body, iterations, timeout_s, False, binary_out),
        )

    def submit(
        body: wire.RequestBody, iterations: int, timeout_s: float, binary_in: bool, binary_out: bool
    ) -> aio.Job:
        return wire.submit_numbers_request(
            wire.numbers_request(
                body,
                iterations=iterations,
                body_format=NumbersFormat.INT64 if binary_in else NumbersFormat.JSON,
                answer_format=NumbersFormat.INT64 if binary_out else NumbersFormat.JSON,
                max_numbers=settings.max_numbers,
                max_work=settings.max_work,
            ),
            timeout=timeout_s,
        )

    async def early_job(request: Request, parameters: tuple[int, float, bool]) -> aio.Job | None:
        """The job the server started for this request with these parameters, if any, once the
        body (which the server has read already) is drained from the app's stream."""
        early = request.scope.get(EARLY_START)
        if not isinstance(early, EarlyNumbers):
            return None
        if early.parameters != parameters:
            early.drop()
            return None
        chunks = [chunk async for chunk in request.stream()]
        job = early.take()
        if job is None:  # the server did not get to submit it: the body is here all the same
            body = wire.RequestBody(sum(map(len, chunks)))
            for chunk in chunks:
                body.append(chunk)
            job = submit(body, *parameters[:2], False, parameters[2])
        return job

    async def read_body(request: Request) -> wire.RequestBody:
        # Into native memory, sized once by Content-Length when there is one; read as a stream,
        # so that Starlette keeps no copy of its own.
        body = wire.RequestBody(content_length(request.scope) or 0)
        async for chunk in request.stream():
            if chunk:
                body.append(chunk)
        return body

    async def fast(request: Request) -> Response | None:
        media = _media_type(request.headers.get("content-type"))
        if media == OCTET_STREAM:
            iterations, timeout_s = binary_parameters(request)
            binary_out = wants_binary(request)
        elif media == JSON:  # other types (none, +json) get FastAPI's own treatment
            parameters = json_parameters(request)
            if parameters is None:
                return None
            iterations, timeout_s, binary_out = parameters
        else:
            return None
        binary_in = media == OCTET_STREAM
        try:
            # The whole body first: only then may the disconnect watcher read from the client.
            parameters = (iterations, timeout_s, binary_out)
            job = None if binary_in else await early_job(request, parameters)
            if job is None:
                body = await read_body(request)
                if binary_in and len(body) % 8:
                    raise partial_value(len(body))
                job = submit(body, iterations, timeout_s, binary_in, binary_out)
            # As any route awaits a job (watched for a disconnect when it is worth it, recorded
            # under the route), with the deadline read here.
            answered = await Runner.of(request, timeout_s).wait(job)
        except (ClientDisconnect, ClientDisconnected):
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        outcome = answered.outcome
        if outcome is RequestOutcome.OK:
            return Response(answered.answer(), media_type=OCTET_STREAM if binary_out else JSON)
        if outcome is RequestOutcome.NOT_CANONICAL:
            request._body = answered.body()  # where FastAPI's own handler reads the body from
            return None
        if outcome is RequestOutcome.TOO_MANY:
            raise too_many_numbers(answered.count, settings)
        if outcome is RequestOutcome.TOO_MUCH_WORK:
            raise too_much_work(answered.count, iterations, settings)
        raise RuntimeError(f"unexpected outcome of a native request: {outcome}")

    return type(
        "NumbersRoute",
        (NativeBodyRoute,),
        {"fast_path": staticmethod(fast), "early_start": staticmethod(early_start)},
    )
