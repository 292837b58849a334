"""Renders the benchmarks' results into BENCHMARKS.md and its plots: one section a suite.

Each suite (bench/<suite>_bench.py, run by ``make bench-<suite>``) writes its results as data,
``bench/out/<suite>.json``; here each becomes its section, in the order of :data:`SECTIONS` (a
suite with no results has none), under a header: the date, the machine, and how to regenerate.
A section is its Jinja template, ``bench/templates/<suite>.md.j2``, rendered with the results
(their keys are the template's variables; the filters and functions it may use are in
:func:`environment`); the plots are drawn here, from the same results, into bench/results/
(BENCHMARKS.md is committed, so the plots it shows are too), and any PNG left there that no
section shows any more is removed. Nothing is typed by hand.

    python -m bench.report                  # after the benchmarks (make bench does both)
    python -m bench.report --out-dir bench/out --results bench/results --output BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from bench.harness import (
    QUIET_CORES,
    REPO_ROOT,
    duration,
    goal_text,
    measured_text,
    quantile,
    ratio,
    verdict,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SECTIONS", "assemble", "environment", "main"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
Results = Mapping[str, Any]
_MEDIA_TYPES = {"application/json": "JSON", "application/octet-stream": "octet-stream"}


# -- what the templates use -----------------------------------------------------------------------


def size(num_bytes: float) -> str:
    """Bytes as text with three significant digits, in B, KiB, MiB or GiB (a minus sign
    before)."""
    if num_bytes < 0:
        return f"-{size(-num_bytes)}"
    if num_bytes < 1024:
        return f"{num_bytes:.0f} B"
    if num_bytes < 1024**2:
        return f"{num_bytes / 1024:.3g} KiB"
    if num_bytes < 1000 * 1024**2:
        return f"{num_bytes / 1024**2:.3g} MiB"
    return f"{num_bytes / 1024**3:.3g} GiB"


def _ns(value: float) -> str:
    return f"{value:.3g}" if value >= 0.01 else f"{value:.2g}"


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _freed(entry: Mapping[str, Any]) -> str:
    """How soon a server's cores were free after the huge job's client left (runtime suite)."""
    freed, count = entry["freed_after_disconnect_median_ms"], entry["freed_after_disconnect_tries"]
    tries = len(entry["tries"])
    if freed is None:
        if all(t["huge_finished_first"] for t in entry["tries"]):
            return "n/a: the huge job ended before the small request was answered"
        return "never: the server was killed"
    return duration(freed) + ("" if count == tries else f" ({count} of {tries} tries)")


def _errors(errors: Mapping[str, int]) -> str:
    count = sum(errors.values())
    return f" ({count} errors)" if count else ""


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def environment() -> jinja2.Environment:
    """The templates' environment. Filters for figures: ``f(spec)`` (``format``), ``ms``,
    ``s`` and ``us`` (a duration given in those units), ``x`` (a ratio; None shows "-"),
    ``size`` (bytes), ``ns`` (ns per step), ``rate`` (requests per second), ``runs`` ("1 run",
    "3 runs"), ``media`` (a media type's short name), ``errors`` (wrk's error counts, shown where
    there are any), ``freed``, ``slug``, ``bench_args`` (a run's arguments as ``make`` takes
    them), and a target's ``goal``, ``measured`` figure and ``verdict``; the function
    ``quantile``."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML
    )
    env.filters.update(
        f=format,
        ms=duration,
        s=lambda seconds, **kw: duration(seconds * 1e3, **kw),
        us=lambda us: duration(us / 1e3),
        x=lambda value, **kw: "-" if value is None else ratio(value, **kw),
        size=size,
        ns=_ns,
        rate=_rate,
        runs=lambda count: f"{count} run" if count == 1 else f"{count} runs",
        media=lambda media_type: _MEDIA_TYPES.get(media_type, media_type),
        errors=_errors,
        freed=_freed,
        slug=_slug,
        bench_args=lambda argv: f" BENCH_ARGS={shlex.quote(shlex.join(argv))}" if argv else "",
        goal=goal_text,
        measured=measured_text,
        verdict=verdict,
    )
    env.globals.update(quantile=quantile, machine_line=_machine_line, quiet_cores=QUIET_CORES)
    return env


def _unwrapped(paragraph: str) -> str:
    """A paragraph of prose on one line (a template wraps it for its readers); a table, list,
    heading or image as it is."""
    if paragraph.startswith(("|", "- ", "#", "![")):
        return paragraph
    return " ".join(paragraph.splitlines())


def render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    """The template ``name`` rendered with ``context``, one paragraph of prose a line."""
    text = env.get_template(name).render(context)
    return "\n\n".join(map(_unwrapped, re.split(r"\n{2,}", text.strip()))) + "\n"


# -- the plots ------------------------------------------------------------------------------------


def new_figure(**subplots: Any) -> tuple[Figure, Any]:
    """``plt.subplots(**subplots)`` on the Agg backend, laid out ``constrained``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chart, axes = plt.subplots(layout="constrained", **subplots)
    return chart, axes


def duration_axis(axis: Any) -> None:
    """Tick labels of milliseconds as :func:`duration` shows them."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda ms, _: duration(ms)))


def machine_title(results: Results) -> str:
    machine = results["machine"]
    return f"{machine['cpu_model']}, {machine['usable_cpus']} usable CPUs, {machine['date']}"


def kernels_ns_per_step(results: Results) -> Figure:
    rows = sorted(results["peers"], key=lambda r: r["ns_per_step"])
    chart, axes = new_figure(figsize=(10, 0.55 * len(rows) + 1.6))
    values = [r["ns_per_step"] for r in rows]
    positions = list(range(len(rows)))
    colours = ["tab:blue" if r["family"] == "gilfree" else "tab:gray" for r in rows]
    axes.barh(positions, values, color=colours)
    axes.set_yticks(positions, [f"{r['label']} [{r['numbers']:,}]" for r in rows], fontsize=8)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlim(min(values) / 2, max(values) * 30)
    for position, row in zip(positions, rows, strict=True):
        text = f" {_ns(row['ns_per_step'])} ns"
        if row["vs_rust"] is not None:
            text += f"  ({ratio(row['vs_rust'])} vs Rust)"
        axes.text(row["ns_per_step"], position, text, va="center", fontsize=8)
    axes.set_xlabel("ns per step (number x iteration), log scale; lower is faster")
    axes.set_title(
        f"process_numbers, {results['plan']['iterations']:,} iterations, SIMD level"
        f" {results['machine']['simd_level']}\n{machine_title(results)}",
        fontsize=10,
    )
    axes.grid(axis="x", which="both", alpha=0.3)
    return chart


def kernels_scaling(results: Results) -> Figure:
    from matplotlib.ticker import MaxNLocator

    sweep = results["scaling"]["rows"]
    threads = [r["threads"] for r in sweep]
    efficiency = next(t["limit"] for t in results["targets"] if t["unit"] == "%")
    top = max(threads)
    chart, axes = new_figure(figsize=(6.5, 4.5))
    axes.plot([0, top], [0, top], "--", color="tab:gray", label="ideal (100% efficiency)")
    axes.plot(
        [0, top], [0, top * efficiency], ":", color="tab:red", label=f"{efficiency:.0%} efficiency"
    )
    axes.plot(threads, [r["speedup"] for r in sweep], "o-", color="tab:blue", label="gilfree")
    for r in sweep:
        axes.annotate(
            f"{r['efficiency']:.0%}",
            (r["threads"], r["speedup"]),
            textcoords="offset points",
            xytext=(6, -12),
            fontsize=8,
        )
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlim(0, top + 0.5)
    axes.set_ylim(0, top + 0.5)
    axes.set_xlabel("native threads")
    axes.set_ylabel("speed-up over 1 thread")
    axes.set_title(
        f"gilfree {results['machine']['simd_level']} scaling:\n{machine_title(results)}",
        fontsize=10,
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    return chart


def runtime_healthz(results: Results) -> Figure:
    measured = results["healthz_under_load"]
    keys = list(measured)
    positions = range(len(keys))
    width = 0.38
    chart, axes = new_figure(figsize=(8, 4.8))
    for offset, name in ((-width / 2, "p50"), (width / 2, "p99")):
        values = [measured[key]["healthz"]["latency_us"][name] / 1e3 for key in keys]
        bars = axes.bar([x + offset for x in positions], values, width, label=name)
        axes.bar_label(bars, labels=[duration(v) for v in values], padding=2, fontsize=8)
    limit = next(t["limit"] for t in results["targets"] if "/healthz" in t["target"])
    axes.axhline(
        limit, color="grey", linestyle="--", linewidth=1, label=f"target: p99 <= {duration(limit)}"
    )
    axes.set_yscale("log")
    duration_axis(axes.yaxis)
    axes.set_ylabel("GET /healthz latency (log scale)")
    axes.set_xticks(list(positions), [results["services"][key]["label"] for key in keys])
    axes.set_title(
        f"/healthz while {results['load']['connections']} connections loop"
        f" {results['plan']['load_numbers']:,} x {results['load_request']['iterations']:,} jobs\n"
        + machine_title(results),
        fontsize=10,
    )
    axes.legend(fontsize=8)
    axes.margins(y=0.15)
    return chart


def service_throughput(results: Results) -> Figure:
    sum_squares, throughput, plan = results["sum_squares"], results["throughput"], results["plan"]
    keys = ("gilfree", "original")
    labels = {"gilfree": "gilfree serve", "original": "original app"}
    colors = {"gilfree": "tab:blue", "original": "tab:orange"}
    logs = list(sum_squares)
    chart, (left, right) = new_figure(ncols=2, figsize=(10, 4.4), width_ratios=(2, 1))
    width = 0.38
    for index, key in enumerate(keys):
        medians = [sum_squares[log][key]["median_requests_per_s"] for log in logs]
        positions = [i + (index - 0.5) * width for i in range(len(logs))]
        bars = left.bar(positions, medians, width, label=labels[key], color=colors[key])
        left.bar_label(
            bars, labels=[f"{m:,.0f}" for m in medians], label_type="center", color="white"
        )
        for position, log in zip(positions, logs, strict=True):
            each = sum_squares[log][key]["requests_per_s"]
            left.scatter([position] * len(each), each, s=8, color="black", zorder=3)
    left.set_xticks(range(len(logs)), [f"access log {log}" for log in logs])
    left.set_ylabel("requests/s (median; dots: runs)")
    left.set_title(
        f"GET {plan['sum_squares_path']}, wrk -t{plan['rps_threads']} -c{plan['rps_connections']}",
        fontsize=10,
    )
    left.legend(loc="upper right", fontsize=8)
    left.margins(y=0.15)
    medians = [throughput[key]["median_requests_per_s"] for key in keys]
    bars = right.bar([labels[key] for key in keys], medians, color=[colors[key] for key in keys])
    right.bar_label(bars, labels=[_rate(m) for m in medians], padding=2, fontsize=8)
    right.set_yscale("log")
    right.set_ylabel("requests/s (median, log scale)")
    right.set_title(
        f"POST {plan['process_numbers_path']}\n{plan['sizes'][0]:,} numbers,"
        f" {plan['posters']} clients",
        fontsize=10,
    )
    right.margins(y=0.2)
    chart.suptitle(
        f"gilfree serve vs the original FastAPI + Rust app: {machine_title(results)}", fontsize=10
    )
    return chart


def wire_latency(results: Results) -> Figure:
    """One row of panels per kind of numbers, one column per size (its x axis shared)."""
    rows = [d for d in results["distributions"].values() if d.get("latency")]
    counts = list(rows[0]["latency"])
    chart, axes_grid = new_figure(
        nrows=len(rows),
        ncols=len(counts),
        figsize=(6 * len(counts), 4.2 * len(rows)),
        squeeze=False,
        sharex="col",
    )
    service_colors = {"gilfree": "tab:blue", "echo": "tab:gray"}
    variants = results["variants"]
    for row_index, (axes_row, measured) in enumerate(zip(axes_grid, rows, strict=True)):
        for axes, count in zip(axes_row, counts, strict=True):
            entries = measured["latency"][count]["variants"]
            keys = list(entries)[::-1]  # the first variant on top
            medians = [entries[key]["median_ms"] for key in keys]
            whiskers = [
                max(0.0, entries[key]["p90_ms"] - entries[key]["median_ms"]) for key in keys
            ]
            colors = [service_colors.get(variants[key]["service"], "tab:orange") for key in keys]
            positions = list(range(len(keys)))
            bars = axes.barh(
                positions,
                medians,
                color=colors,
                xerr=[[0.0] * len(keys), whiskers],
                error_kw={"capsize": 3, "elinewidth": 1},
            )
            axes.bar_label(bars, labels=[duration(m) for m in medians], padding=14, fontsize=8)
            axes.set_xscale("log")
            duration_axis(axes.xaxis)
            axes.set_yticks(positions, [variants[key]["label"] for key in keys], fontsize=8)
            if row_index == len(rows) - 1:
                axes.set_xlabel("round trip, median (bar) and p90 (whisker), log scale")
            axes.set_title(f"{int(count):,} numbers, {measured['label']}", fontsize=10)
            axes.margins(x=0.25)
    chart.suptitle(
        f"POST /process-numbers?iterations={results['plan']['iterations']} round trips:"
        f" {machine_title(results)}",
        fontsize=10,
    )
    return chart


PLOTS: dict[str, Callable[[Results], Figure]] = {
    plot.__name__: plot
    for plot in (
        kernels_ns_per_step,
        kernels_scaling,
        runtime_healthz,
        service_throughput,
        wire_latency,
    )
}


@dataclass
class Plots:
    """Draws the plots a template asks for into ``folder``, linked from the document at
    ``document``; ``drawn``: the files drawn."""

    folder: Path
    document: Path
    drawn: list[str] = field(default_factory=list)

    def draw(self, results: Results, name: str) -> str:
        """The plot ``name`` of :data:`PLOTS` drawn from the results; the link to its PNG."""
        import matplotlib.pyplot as plt

        chart = PLOTS[name](results)
        path = self.folder / f"{name}.png"
        chart.savefig(path, dpi=150)
        plt.close(chart)
        self.drawn.append(path.name)
        return Path(os.path.relpath(path, self.document.parent)).as_posix()


# -- the document ---------------------------------------------------------------------------------


def _wire(results: Results) -> dict[str, Any]:
    """What the wire section says of its results as a whole: the kinds of numbers sent, the
    loads of other processes while it timed, whether VmHWM could be reset for every request."""
    distributions = results["distributions"].values()
    tries = [
        attempt
        for d in distributions
        for entry in d.get("memory", {}).values()
        for attempt in entry["tries"]
    ]
    return {
        "kinds": [f"{d['description']} (*{d['label']}*)" for d in distributions],
        "busy": [
            f"{measured['other_cores_busy']:.2f} cores were busy with other processes while the"
            f" {int(count):,}-number round trips ({d['label']}) were timed"
            for d in distributions
            for count, measured in d.get("latency", {}).items()
            if measured["other_cores_busy"] > QUIET_CORES
        ],
        "hwm_reset_everywhere": all(attempt["hwm_reset"] for attempt in tries),
    }


# Each suite's section, in the document's order, and what its template needs of its results as a
# whole beyond them.
SECTIONS: dict[str, Callable[[Results], Mapping[str, Any]] | None] = {
    "kernels": None,
    "runtime": None,
    "service": None,
    "fuzzy": None,
    "wire": _wire,
    "scale": None,
}


def _machine_line(machine: Mapping[str, Any]) -> str:
    cpu = machine["cpu_model"] + (f" ({machine['cpu_id']})" if machine["cpu_id"] else "")
    return (
        f"{cpu}, {machine['usable_cpus']} usable CPUs, SIMD level {machine['simd_level']},"
        f" {machine['python']}"
    )


def section(env: jinja2.Environment, suite: str, results: Results, plots: Plots) -> str:
    """The suite's section of BENCHMARKS.md, its plots drawn."""
    whole = SECTIONS[suite]
    context = {
        **results,
        **(whole(results) if whole else {}),
        "suite": suite,
        "plot": partial(plots.draw, results),
    }
    return render(env, f"{suite}.md.j2", context)


def assemble(out_dir: Path, results_dir: Path, output: Path) -> str:
    """BENCHMARKS.md's text; draws its plots into ``results_dir`` as a side effect."""
    found = {
        suite: json.loads(path.read_text(encoding="utf-8"))
        for suite in SECTIONS
        if (path := out_dir / f"{suite}.json").is_file()
    }
    if not found:
        raise FileNotFoundError(f"no benchmark results (*.json) in {out_dir}: run `make bench`")
    results_dir.mkdir(parents=True, exist_ok=True)
    env, plots = environment(), Plots(results_dir, output)
    sections = []
    for suite, results in found.items():
        text = section(env, suite, results, plots)
        heading = text.splitlines()[0].removeprefix("## ")
        sections.append(
            {
                "heading": heading,
                "text": text,
                "machine": results["machine"],
                "mode": results["mode"],
            }
        )
    for stale in results_dir.glob("*.png"):
        if stale.name not in plots.drawn:
            stale.unlink()
    machines = {(s["machine"]["cpu_model"], s["machine"]["usable_cpus"]) for s in sections}
    context = {
        "now": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "same_machine": len(machines) == 1,
        "sections": sections,
    }
    return render(env, "BENCHMARKS.md.j2", context)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description="Render BENCHMARKS.md from bench/out."
    )
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "bench" / "out")
    parser.add_argument("--results", type=Path, default=REPO_ROOT / "bench" / "results")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    try:
        text = assemble(args.out_dir, args.results, args.output)
    except FileNotFoundError as error:
        print(f"report: {error}", file=sys.stderr)
        return 1
    args.output.write_text(text, encoding="utf-8")
    print(f"report: wrote {args.output} (plots in {args.results})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
