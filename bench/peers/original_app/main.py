"""The original FastAPI + Rust example, rebuilt as it was written: a peer for gilfree's service
benchmark (bench/service_bench.py).

Its Rust extension, ``original_ext`` (src/lib.rs, built by ``make bench-service``), holds the GIL
while it works; ``POST /process-numbers-rust`` calls it through ``run_in_threadpool`` and
``GET /sum-squares-rust`` calls it on the event loop. Run it from this folder with
``uvicorn main:app --port PORT``. It has no health route: the benchmark waits on
``/sum-squares-rust``.
"""

from typing import List  # noqa: UP035 (as the original wrote it)

import original_ext
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

app = FastAPI()


class NumbersRequest(BaseModel):
    numbers: List[int]  # noqa: UP006 (as the original wrote it)


@app.post("/process-numbers-rust")
async def process_numbers(data: NumbersRequest):
    result = await run_in_threadpool(original_ext.process_numbers_rust, data.numbers)
    return {"original_count": len(data.numbers), "processed_result": result}


@app.get("/sum-squares-rust")
async def sum_squares(a: int = 5, b: int = 10):
    return {"a": a, "b": b, "sum_of_squares": original_ext.sum_squares_rust(a, b)}
