"""Service settings, read from GILFREE_-prefixed environment variables (CONTRACT section 4)."""

from __future__ import annotations

import math

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["QUEUED_CPU_S_PER_THREAD", "Settings"]

MIB = 1024 * 1024
# The default queue: this many seconds of work for every native thread, half the default deadline.
QUEUED_CPU_S_PER_THREAD = 30.0


class Settings(BaseSettings):
    """Where the service listens and the limits it enforces; every field has a sane default.

    Each field ``name`` is read from the environment variable ``GILFREE_<NAME>``; values passed to
    the constructor win over the environment. An empty variable counts as unset.
    """

    model_config = SettingsConfigDict(env_prefix="GILFREE_", env_ignore_empty=True, frozen=True)

    host: str = Field(
        default="127.0.0.1", min_length=1, description="Address `gilfree serve` binds."
    )
    port: int = Field(
        default=8000, ge=1, le=65535, description="TCP port `gilfree serve` listens on."
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        description="Native worker threads in this process; None: the usable CPUs.",
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
    max_queued_cpu_s: float | None = Field(
        default=None,
        gt=0,
        description="Estimated CPU seconds of work admitted but not finished, for every kernel"
        " alike; a request past it gets 503 (a request alone is always admitted). None:"
        f" {QUEUED_CPU_S_PER_THREAD:g} s per native thread.",
    )
    request_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Deadline of a request's work in seconds; 504 when it passes.",
    )

    buffer_cache_bytes: int = Field(
        default=64 * MIB,
        ge=0,
        description="Bytes of large request and answer buffers kept for reuse between requests"
        " (0: none).",
    )
    tune_allocator: bool = Field(
        default=True,
        description="Pin glibc malloc's mmap and trim thresholds at startup (1 MiB, 8 MiB) so"
        " that mid-size per-request buffers are reused, not mapped afresh; the MALLOC_*_"
        " environment variables, when set, win.",
    )
    shutdown_grace_s: float = Field(
        default=10.0,
        ge=0,
        description="On shutdown, seconds admitted work gets to finish before it is cancelled.",
    )

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
