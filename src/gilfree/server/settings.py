"""Service settings, read from GILFREE_-prefixed environment variables (CONTRACT section 4): the
runtime's (gilfree.fastapi.RuntimeSettings) and the service's own address and limits."""

from __future__ import annotations

from pydantic import Field

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
