"""Fuzzy search benchmark: examples/fuzzy_search against rapidfuzz and pure Python, and served as
search-as-you-type.

Measures, on this machine and in one run:

1. the kernel, in this process, over the example's corpus (a million seeded product titles), for
   queries of 1 to 156 characters, k = 10: ``fuzzy.search`` on one native thread and on every
   usable CPU, ``rapidfuzz.process.extract(query, titles, scorer=fuzz.ratio, limit=10)`` (one
   thread) and ``rapidfuzz.process.cdist([query], titles, scorer=fuzz.ratio, workers=-1)`` (every
   CPU); rounds interleave the four, and each figure is the median of its rounds. The top 10
   scores of gilfree and ``extract`` must be equal. Pure Python (the same LCS as a dynamic
   programme) runs on a sample of the titles and is compared per title;
2. the service, a real ``uvicorn app:app`` over the same corpus: the latency of a lone search
   (one client, nothing else running), then 8 clients each typing phrases at 10 keystrokes a
   second, every keystroke aborting the request still in flight (closing its connection, as a
   browser's AbortController does) and sending the new prefix; the latency that counts is that of
   a phrase's last keystroke;
3. how long a superseded search keeps running: a long search aborted mid-job, and the server's
   ``gilfree_executor_active_jobs`` polled until it reads 0 (the time to that scrape's answer
   bounds the job's stop from above).

Writes fuzzy.json into ``--out`` (default bench/out); ``make bench-report`` renders it. Run it as
``make bench-fuzzy`` (which builds the example and puts it on the path); ``--quick`` is short.
"""

from __future__ import annotations

import asyncio
import random
import re
import socket
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gilfree
from bench import harness
from bench.harness import LOOPBACK, Children, Server, ServiceSpec, median, progress, quantile

EXAMPLE = harness.REPO_ROOT / "examples" / "fuzzy_search"
K = 10
CORPUS_SIZE = 1_000_000
PYTHON_SAMPLE = 2_000  # titles pure Python scores per query
QUERIES = [
    "c",
    "mug",
    "cafe press",
    "nordhaus steel water bottle",
    "Muller Naive Cafe Mug Small, Pack of 2 blue",
    "Granite Peak Eco-Friendly Wool Cutting Board White 12 oz - Edition",
    "Fjällräv Minimalist Cast Iron Kettle Slate Grey 12 oz - Édition Spéciale, with the lid",
    "Sakura 桜 Organic Bamboo Matcha Whisk 抹茶 Forest Green 日本製 - Limited Edition, with the "
    "stand, the scoop and the bowl, as a gift set for a tea ceremony at home",
]
TYPISTS = 8
KEYSTROKE_S = 0.1  # 10 keystrokes a second
CANCEL_WAIT_S = 0.010  # how long after its client aborted a search may still run
ABORT_WAITS_S = (0.001, 0.002, 0.005, CANCEL_WAIT_S)
LONG_QUERY = QUERIES[-1]


# -- 1. the kernel -------------------------------------------------------------------------------


def python_ratio(a: str, b: str) -> float:
    """fuzz.ratio in pure Python: the LCS by dynamic programming, rapidfuzz's formula."""
    previous = [0] * (len(b) + 1)
    for ca in a:
        current = [0]
        for j, cb in enumerate(b):
            current.append(previous[j] + 1 if ca == cb else max(previous[j + 1], current[j]))
        previous = current
    total = len(a) + len(b)
    norm_dist = (total - 2 * previous[-1]) / total if total else 0.0
    return (1.0 - norm_dist) * 100


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure_kernel(rounds: int, size: int) -> dict[str, Any]:
    import fuzzy
    from corpus import product_titles
    from rapidfuzz import fuzz, process

    cpus = harness.usable_cpus()
    titles = product_titles(size)
    corpus = fuzzy.Corpus(titles)
    methods: dict[str, tuple[int | None, Callable[[str], object]]] = {
        "gilfree_1": (1, lambda q: fuzzy.search(corpus, q, K)),
        "gilfree_all": (cpus, lambda q: fuzzy.search(corpus, q, K)),
        "extract": (None, lambda q: process.extract(q, titles, scorer=fuzz.ratio, limit=K)),
        "cdist": (None, lambda q: process.cdist([q], titles, scorer=fuzz.ratio, workers=-1)),
    }
    seconds: dict[str, dict[str, list[float]]] = {m: {q: [] for q in QUERIES} for m in methods}
    order = list(methods)
    for round_ in range(rounds):
        progress(f"kernel round {round_ + 1} of {rounds}")
        for method in order[round_ % len(order) :] + order[: round_ % len(order)]:
            threads, call = methods[method]
            if threads is not None:
                gilfree.configure(threads=threads)
                call("warm up")
            for query in QUERIES:
                seconds[method][query].append(_timed(lambda: call(query)))  # noqa: B023
    for query in QUERIES:  # the same top 10 (scores; ties may order equal titles differently)
        ours = [score for _, score in fuzzy.search(corpus, query, K)]
        theirs = [
            score for _, score, _ in process.extract(query, titles, scorer=fuzz.ratio, limit=K)
        ]
        if ours != theirs:
            raise AssertionError(f"top {K} scores differ for {query!r}: {ours} != {theirs}")
    sample = random.Random(5).sample(titles, PYTHON_SAMPLE)
    python_s = {}
    for query in QUERIES:
        python_s[query] = _timed(lambda: [python_ratio(query, t) for t in sample]) / PYTHON_SAMPLE  # noqa: B023
        checked = sample[:50]
        if [python_ratio(query, t) for t in checked] != [fuzz.ratio(query, t) for t in checked]:
            raise AssertionError("the pure-Python scores are not rapidfuzz's")
    gilfree.configure()
    return {
        "size": size,
        "cpus": cpus,
        "rounds": rounds,
        "queries": {
            query: {
                **{m: median(seconds[m][query]) for m in methods},
                "python_per_title": python_s[query],
            }
            for query in QUERIES
        },
    }


# -- 2. and 3. the service -----------------------------------------------------------------------


def _fuzzy_service(threads: int) -> ServiceSpec:
    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "uvicorn", "--app-dir", str(EXAMPLE), "app:app",
                "--host", LOOPBACK, "--port", str(port), "--log-level", "warning",
                "--no-access-log"]  # fmt: skip

    return ServiceSpec(
        "fuzzy", "examples/fuzzy_search", f"uvicorn app:app, {threads} threads", command
    )


def _target(query: str) -> str:
    return "/search?" + urllib.parse.urlencode({"q": query, "k": K})


async def _search(port: int, query: str) -> float:
    """One search on a fresh connection: seconds from connecting to the whole answer read.
    Cancelling it closes the connection (the server then cancels the job)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    try:
        head = f"GET {_target(query)} HTTP/1.1\r\nHost: {LOOPBACK}\r\nConnection: close\r\n\r\n"
        writer.write(head.encode())
        answer = await reader.read()  # to EOF: Connection: close
    finally:
        writer.close()
    if not answer.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"search {query!r} answered {answer[:60]!r}")
    return time.perf_counter() - started


def _phrases(titles: Sequence[str], count: int, seed: int) -> list[str]:
    """What typists type: the first two or three words of random titles."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(titles).split()[: rng.choice((2, 3))]) for _ in range(count)]


async def _lone(port: int, phrases: Sequence[str]) -> list[float]:
    return [await _search(port, phrase) for phrase in phrases]


async def _typist(port: int, phrases: Sequence[str], start_s: float) -> tuple[list[float], int]:
    """Types each phrase a keystroke every KEYSTROKE_S, aborting the search in flight; the
    latencies of the phrases' last keystrokes, and how many searches were aborted."""
    await asyncio.sleep(start_s)
    last_latencies, aborted = [], 0
    for phrase in phrases:
        in_flight: asyncio.Task[float] | None = None
        for end in range(1, len(phrase) + 1):
            if in_flight is not None and not in_flight.done():
                in_flight.cancel()
                aborted += 1
            in_flight = asyncio.ensure_future(_search(port, phrase[:end]))
            if end < len(phrase):
                await asyncio.sleep(KEYSTROKE_S)
        assert in_flight is not None
        last_latencies.append(await in_flight)
        await asyncio.sleep(KEYSTROKE_S)
    return last_latencies, aborted


async def _typists(port: int, phrases: Sequence[str]) -> tuple[list[float], int]:
    share = len(phrases) // TYPISTS
    runs = await asyncio.gather(
        *(
            _typist(port, phrases[i * share : (i + 1) * share], i * KEYSTROKE_S / TYPISTS)
            for i in range(TYPISTS)
        ),
        return_exceptions=False,
    )
    return [s for latencies, _ in runs for s in latencies], sum(aborted for _, aborted in runs)


def _active_jobs(port: int) -> float:
    with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/metrics", timeout=10) as answer:
        found = re.search(rb"^gilfree_executor_active_jobs (\S+)", answer.read(), re.M)
    assert found is not None
    return float(found.group(1))


def _still_running_after_abort(port: int, trials: int) -> dict[str, Any]:
    """For each wait, how many of ``trials`` long searches, aborted mid-job, still had a job on
    the server that long after the abort: one scrape of /metrics each, sent once the wait is over
    (so the count is read at the wait plus the scrape's way in, at most one scrape's time)."""
    scrape = median(_timed(lambda: _active_jobs(port)) for _ in range(20))
    long_search = median(_timed(lambda: asyncio.run(_search(port, LONG_QUERY))) for _ in range(5))
    running = {}
    for wait in ABORT_WAITS_S:
        running[str(wait)] = 0
        for _ in range(trials):
            sock = socket.create_connection((LOOPBACK, port))
            sock.sendall(f"GET {_target(LONG_QUERY)} HTTP/1.1\r\nHost: {LOOPBACK}\r\n\r\n".encode())
            time.sleep(long_search / 3)  # the job is running
            sock.close()
            time.sleep(wait)
            running[str(wait)] += _active_jobs(port) != 0
            time.sleep(long_search)  # nothing left over from this trial in the next
    return {"scrape_s": scrape, "long_search_s": long_search, "trials": trials, "running": running}


def measure_service(children: Children, logs: Path, quick: bool) -> dict[str, Any]:
    from corpus import product_titles

    threads = harness.usable_cpus()
    env = harness.server_env(threads, {"FUZZY_CORPUS_SIZE": str(CORPUS_SIZE)})
    server = Server(
        _fuzzy_service(threads), children, logs / "fuzzy.log", env, startup_timeout_s=120
    )
    server.start()
    try:
        phrases = _phrases(product_titles(CORPUS_SIZE), 48 if quick else 160, seed=11)
        asyncio.run(_lone(server.port, phrases[:10]))  # warm up
        progress(f"lone searches: {len(phrases)}")
        lone = asyncio.run(_lone(server.port, phrases))
        progress(f"{TYPISTS} typists at {1 / KEYSTROKE_S:.0f} keystrokes a second")
        busy0, wall0 = harness.machine_cpu_seconds(), time.monotonic()
        typed, aborted = asyncio.run(_typists(server.port, phrases))
        busy = (harness.machine_cpu_seconds() - busy0) / (time.monotonic() - wall0)
        progress("aborted long searches")
        stops = _still_running_after_abort(server.port, 5 if quick else 20)
    finally:
        server.stop(grace_s=5)
    return {
        "threads": threads,
        "phrases": len(phrases),
        "lone_s": lone,
        "typed_last_s": typed,
        "aborted": aborted,
        "cores_busy_while_typing": busy,
        **stops,
    }


# -- results -------------------------------------------------------------------------------------


def evaluate_targets(kernel: dict[str, Any], service: dict[str, Any]) -> list[dict[str, Any]]:
    queries = kernel["queries"].values()
    typed_p99 = quantile(service["typed_last_s"], 0.99) / quantile(service["lone_s"], 0.99)
    return [
        harness.target(
            "1 thread vs rapidfuzz extract, the slowest query",
            min(q["extract"] / q["gilfree_1"] for q in queries),
            ">=",
            1.0,
            "x",
        ),
        harness.target(
            f"{kernel['cpus']} threads vs rapidfuzz cdist(workers=-1), the slowest query",
            min(q["cdist"] / q["gilfree_all"] for q in queries),
            ">",
            1.0,
            "x",
        ),
        harness.target(
            f"p99 of the last keystroke, {TYPISTS} typists, over a lone search's p99",
            typed_p99,
            "<=",
            2.0,
            "x",
        ),
        harness.target(
            f"aborted searches still running {CANCEL_WAIT_S * 1e3:g} ms after the abort",
            service["running"][str(CANCEL_WAIT_S)],
            "<=",
            0,
            f" of {service['trials']}",
        ),
    ]


def measure(children: Children, quick: bool, out: Path) -> dict[str, Any]:
    """The kernel's queries in this process, then the service's: the run's results."""
    mode = "quick" if quick else "full"
    threads = harness.usable_cpus()
    logs = out / "fuzzy_logs"
    plan = {
        "queries": QUERIES,
        "k": K,
        "corpus_size": CORPUS_SIZE,
        "python_sample": PYTHON_SAMPLE,
        "typists": TYPISTS,
        "keystroke_s": KEYSTROKE_S,
        "long_query": LONG_QUERY,
    }
    busy = harness.start_run(mode, threads, "fuzzy search", logs)
    results = harness.results_head(mode, plan, threads, busy)
    results["kernel"] = measure_kernel(3 if quick else 7, CORPUS_SIZE)
    results["service"] = measure_service(children, logs, quick)
    results["targets"] = evaluate_targets(results["kernel"], results["service"])
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = harness.bench_parser(
        "python -m bench.fuzzy_bench",
        __doc__,
        quick="fewer rounds and phrases",
        outputs="fuzzy.json",
    )
    args = parser.parse_args(argv)
    try:
        import fuzzy  # noqa: F401
        import rapidfuzz  # noqa: F401
    except ImportError as missing:
        parser.error(f"{missing.name} is not importable: run it as `make bench-fuzzy`")
    sys.path.insert(0, str(EXAMPLE))
    out: Path = args.out.resolve()
    return harness.run_and_report(
        lambda children: measure(children, args.quick, out),
        out / "fuzzy.json",
        require_targets=args.require_targets,
    )


if __name__ == "__main__":
    sys.exit(main())
