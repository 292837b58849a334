"""Service settings, read from GILFREE_-prefixed environment variables (docs/semantics.md section
4): the runtime's (gilfree.fastapi.RuntimeSettings) and the service's own address and limits."""

from __future__ import annotations

from pydantic import Field, field_validator

from gilfree.fastapi import MIB, QUEUED_CPU_S_PER_THREAD, RuntimeSettings

__all__ = ["MIB", "QUEUED_CPU_S_PER_THREAD", "Settings"]


class Settings(RuntimeSettings):
    """Where the service listens and the limits it enforces; every field has a sane default.

    Each field ``name`` is read from the environment variable ``GILFREE_<NAME>``; values passed to
    the constructor win over the environment. An empty variable counts as unset.
    """

    host: str = Field(
        default="127.0.0.1", min_length=1, description="Address `gilfree serve` binds."
    )
    port: int = Field(
        default=8000, ge=1, le=65535, description="TCP port `gilfree serve` listens on."
    )
    max_header_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="A larger request line and headers get 431 (the connection is closed).",
    )
    max_headers: int = Field(
        default=100, ge=1, description="More header fields in one request get 431."
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a request head may take to arrive; 408 past it (a new connection"
        " that sends nothing is closed).",
    )
    body_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a request body may stall while it is read; 408 past it.",
    )
    max_connections: int = Field(
        default=1000,
        ge=1,
        description="Open connections (with `gilfree serve --workers N`, of the N processes"
        " together); one more is answered 503 with `Retry-After` and closed.",
    )
    max_body_bytes: int = Field(
        default=64 * MIB, ge=1, description="Larger request bodies get 413."
    )
    max_numbers: int = Field(
        default=4_000_000, ge=1, description="More numbers in one request get 413."
    )
    max_iterations: int = Field(default=100_000, ge=0, description="Larger `iterations` get 422.")
    max_work: int = Field(
        default=10**10,
        ge=1,
        description="Steps (numbers x iterations) of one process-numbers request; more gets 413.",
    )

    @field_validator("header_timeout_s", "body_timeout_s")
    @classmethod
    def _finite_timeouts(cls, value: float) -> float:
        return cls._finite_seconds(value)  # type: ignore[return-value]
