"""The HTTP service: ``GET /primes?below=N`` counts the primes below N on gilfree's workers.

``setup(app)`` runs the native runtime for the app's lifetime and maps gilfree's errors (503 with
Retry-After when the machine is full, 504 past the deadline, 422 for invalid input); ``Run`` awaits
a job without a Python thread and cancels it when the client leaves or its deadline passes (the
``X-Request-Timeout`` header, in seconds, may shorten the deadline)."""

from fastapi import FastAPI, Query
from gilfree.fastapi import Run, setup
from pydantic import BaseModel

from {{module}} import MAX_BELOW, count_primes

app = FastAPI(title="{{name}}")
setup(app)  # also serves /metrics and /healthz


class Primes(BaseModel):
    below: int
    count: int


@app.get("/primes")
async def primes(run: Run, below: int = Query(ge=0, le=MAX_BELOW)) -> Primes:
    return Primes(below=below, count=await run(count_primes, below))
