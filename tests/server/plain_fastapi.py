"""The original example's endpoint, as the oracle of the differential tests: a plain FastAPI app
whose body model is ``numbers: list[int]`` and whose answer comes from the reference kernel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Query
from pydantic import BaseModel

from gilfree import reference

MAX_ITERATIONS = 100_000  # the contract's default, as in conftest.default_settings()


class PlainNumbers(BaseModel):
    numbers: list[int]


def plain_app() -> FastAPI:
    """`POST /process-numbers` with `numbers: list[int]`, answered with the reference kernel."""
    app = FastAPI()

    @app.post("/process-numbers")
    async def process_numbers(
        body: PlainNumbers,
        iterations: Annotated[int, Query(ge=0, le=MAX_ITERATIONS)] = 1000,
    ) -> dict[str, Any]:
        return {
            "original_count": len(body.numbers),
            "processed_result": reference.process_numbers(body.numbers, iterations),
        }

    return app
