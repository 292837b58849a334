from fastapi import FastAPI

import vowels
from gilfree.fastapi import Run, setup

app = FastAPI()
setup(app)  # the native runtime for the app's life, gilfree's errors as 503/504/422, /metrics


@app.post("/vowel-share")
async def vowel_share(words: list[str], run: Run) -> list[float]:
    # Awaited without a Python thread; cancelled if the client leaves; X-Request-Timeout applies.
    result: list[float] = await run(vowels.vowel_share, words)
    return result
