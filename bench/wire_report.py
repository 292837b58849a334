"""Writes the wire benchmark's results: wire.json, wire.md and wire_latency.png.

Every number in the Markdown and the plot is read from the results of the run; none is typed in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.runtime_report import (
    QUIET_CORES,
    duration,
    duration_formatter,
    generated_by,
    new_figure,
    noise_warning,
    ratio,
    save_figure,
    table,
    targets_section,
    write_report,
)

__all__ = ["render_markdown", "write_all"]

JSON_NAME = "wire.json"
MARKDOWN_NAME = "wire.md"
PLOT_NAME = "wire_latency.png"
_REFERENCE = "gilfree_json"
_ORIGINAL = "original"
_SHORT_TYPES = {"application/json": "JSON", "application/octet-stream": "octet-stream"}


def write_all(results: dict[str, Any], out: Path) -> list[Path]:
    plot = plot_latency if results.get("latency") else None
    return write_report(results, out, (JSON_NAME, MARKDOWN_NAME, PLOT_NAME), render_markdown, plot)


# -- formatting ----------------------------------------------------------------------------------


def size(num_bytes: float) -> str:
    """Bytes as text with three significant digits, in B, KiB or MiB."""
    if num_bytes < 1024:
        return f"{num_bytes:.0f} B"
    if num_bytes < 1024**2:
        return f"{num_bytes / 1024:.3g} KiB"
    return f"{num_bytes / 1024**2:.3g} MiB"


def _label(results: dict[str, Any], key: str) -> str:
    label: str = results["variants"][key]["label"]
    return label


def _short(media_type: str) -> str:
    return _SHORT_TYPES.get(media_type, media_type)


# -- Markdown ------------------------------------------------------------------------------------


def render_markdown(results: dict[str, Any]) -> str:
    machine, plan = results["machine"], results["plan"]
    command = "python -m bench.wire_bench" + (" --quick" if results["mode"] == "quick" else "")
    if plan["values"] != "range":
        command += f" --values {plan['values']}"
    values = (
        "0, 1, ..., N-1"
        if plan["values"] == "range"
        else "N seeded random values over the whole int64 range"
    )
    lines = [
        "## Wire: POST /process-numbers round trips, JSON and octet-stream, against the original"
        " FastAPI style",
        "",
        generated_by(machine, command, "in gilfree's server")
        + f" The numbers sent are {values}, at"
        f" `iterations={plan['iterations']}`: the kernel's own work is negligible, so what is"
        " measured is moving the numbers into the service and back out.",
        "",
    ]
    lines += _load_warnings(results)
    lines += _targets_section(results)
    lines += _latency_section(results)
    lines += _memory_section(results)
    lines += _method_section(results)
    return "\n".join(lines)


def _load_warnings(results: dict[str, Any]) -> list[str]:
    warnings = []
    for count, measured in results.get("latency", {}).items():
        other = measured["other_cores_busy"]
        if other > QUIET_CORES:
            warnings.append(
                f"{other:.2f} cores were busy with other processes while the {int(count):,}-number"
                " round trips were timed"
            )
    return noise_warning(results["machine"], warnings)


def _targets_section(results: dict[str, Any]) -> list[str]:
    lines = targets_section(results["targets"], _goal_and_shown)
    big = str(results["plan"]["rss_numbers"])
    variants = results.get("latency", {}).get(big, {}).get("variants", {})
    model, json_in = variants.get("original_model"), variants.get(_REFERENCE)
    octet = variants.get("gilfree_octet")
    memory = results.get("memory", {}).get(_REFERENCE)
    if memory:
        retained = memory["idle_rss_after_kib"] - memory["fresh_idle_rss_kib"]
        lines += [
            f"Not a target, for scale: over {len(memory['tries'])} such requests in a row,"
            f" gilfree's JSON path peaked"
            f" {size(memory['worst_extra_over_fresh_kib'] * 1024)} over the fresh server's idle"
            f" RSS ({ratio(memory['worst_multiple_of_body'])} the body), and its idle RSS"
            f" afterwards was {size(retained * 1024)} higher than before them (memory the"
            " allocator kept).",
            "",
        ]
    if model and json_in:
        lines += [
            f"Not a target, for scale: against the original style with `response_model=` (the"
            f" faster of the two FastAPI-only ways measured here), gilfree's JSON round trip of"
            f" {int(big):,} numbers is {ratio(model['median_ms'] / json_in['median_ms'])} faster"
            + (
                f", its octet-stream one {ratio(model['median_ms'] / octet['median_ms'])}."
                if octet
                else "."
            ),
            "",
        ]
    return lines


def _goal_and_shown(target: dict[str, Any]) -> tuple[str, str]:
    measured = target["measured"]
    shown = "-" if measured is None else ratio(measured)
    return f"{target['goal']} {target['limit']:g}x", shown


def _latency_section(results: dict[str, Any]) -> list[str]:
    latency = results.get("latency")
    if not latency:
        return []
    plan = results["plan"]
    lines = [
        "### Round-trip latency",
        "",
        f"One request at a time on a keep-alive connection per variant; the time runs from the"
        f" first byte of the request sent to the last byte of the answer read. The variants"
        f" take turns in {plan['rounds']} rounds (a burst of other work on the machine hits them"
        f" all alike), each getting as many requests per round as fit"
        f" {duration(plan['round_budget_s'] * 1e3)} by its warm-up latency (1 to"
        f" {plan['max_per_round']}), after {plan['warm_up_requests']} warm-up requests, the first"
        " of them verified. *Server CPU* is the server process's on-CPU time per request, all"
        " its threads together.",
        "",
    ]
    floor = results.get("floor")
    if floor:
        lines += [
            "For scale, the cheapest round trip there is (client and server together), a"
            f" `GET /healthz` to gilfree's server: median"
            f" {duration(floor['median_ms'])}, p90 {duration(floor['p90_ms'])}"
            f" ({floor['requests']:,} requests).",
            "",
        ]
    for count, measured in latency.items():
        variants = measured["variants"]
        reference = variants.get(_REFERENCE)
        original = variants.get(_ORIGINAL)
        rows = []
        for key, entry in variants.items():
            spec = results["variants"][key]
            body = measured[
                "octet_body_bytes" if "octet" in spec["content_type"] else "json_body_bytes"
            ]
            row = [
                _label(results, key),
                f"{_short(spec['content_type'])}, {size(body)}",
                _short(spec["accept"]),
                duration(entry["median_ms"]),
                duration(entry["p90_ms"]),
            ]
            if original:
                row.append(ratio(original["median_ms"] / entry["median_ms"]))
            if reference:
                row.append(ratio(entry["median_ms"] / reference["median_ms"]))
            row += [duration(entry["server_cpu_ms_per_request"]), str(entry["requests"])]
            rows.append(row)
        header = ["variant", "request body", "answer", "median", "p90"]
        if original:
            header.append("original style / this (speed-up)")
        if reference:
            header.append("this / gilfree JSON")
        header += ["server CPU per request", "requests"]
        lines += [
            f"#### {int(count):,} numbers",
            "",
            *table(header, rows),
            "",
            f"While these were timed ({measured['wall_s']:.3g} s), the machine's cores were busy"
            f" {measured['machine_cores_busy']:.2f} on average: the servers"
            f" {measured['servers_cores_busy']:.2f}, the client"
            f" {measured['client_cores_busy']:.2f}, other processes"
            f" {measured['other_cores_busy']:.2f}.",
            "",
        ]
    lines += [f"![Round-trip latency]({PLOT_NAME})", ""]
    return lines


def _memory_section(results: dict[str, Any]) -> list[str]:
    memory = results.get("memory")
    if not memory:
        return []
    plan, method = results["plan"], results["method"]
    poll = duration(method["rss_poll_s"] * 1e3)
    reset = all(t["hwm_reset"] for entry in memory.values() for t in entry["tries"])
    how = (
        "the kernel's high-water mark (`VmHWM`, reset through `/proc/PID/clear_refs` just"
        f" before the request) or `VmRSS` sampled every {poll} during it, whichever is higher"
        if reset
        else f"`VmRSS` sampled every {poll} during it (this kernel would not reset `VmHWM`,"
        " so a peak shorter than that can be missed)"
    )
    requests = 1 + plan["rss_later_requests"]
    rows = []
    for key, entry in memory.items():
        first, body = entry["tries"][0], entry["body_bytes"]
        at = first["sampled_peak_at_s"]
        rows.append(
            [
                _label(results, key),
                size(body),
                size(entry["fresh_idle_rss_kib"] * 1024),
                size(first["extra_peak_kib"] * 1024),
                ratio(first["multiple_of_body"]),
                size(entry["worst_extra_over_fresh_kib"] * 1024),
                ratio(entry["worst_multiple_of_body"]),
                size((entry["idle_rss_after_kib"] - entry["fresh_idle_rss_kib"]) * 1024),
                "-" if at is None else f"{at / first['seconds']:.0%}",
            ]
        )
    header = [
        "variant",
        "request body",
        "idle RSS",
        "first request: peak - idle",
        "/ body",
        f"worst of {requests}: peak - fresh idle",
        "/ body",
        "idle RSS kept after them",
        "first peak at (share of its round trip)",
    ]
    warm = min(int(count) for count in results.get("latency", {"10000": None}))
    return [
        f"### Peak memory of one {plan['rss_numbers']:,}-number request",
        "",
        f"Each variant gets a fresh server, one verified warm-up request of {warm:,} numbers,"
        f" then {requests} requests of {plan['rss_numbers']:,} numbers one after another. Before"
        f" each, the server idles {duration(method['rss_settle_s'] * 1e3)}; its RSS then is the"
        f" idle RSS; its peak RSS while it answers is {how}. *Peak - idle* is over the idle RSS"
        " just before that request; *peak - fresh idle* is over the idle RSS before the first"
        " large request, so that memory the allocator kept from an earlier request (which raises"
        " the idle RSS and hides itself from the first figure) counts too. */ body* divides by"
        " the request body's size. The target reads the first request's *peak - idle*.",
        "",
        *table(header, rows),
        "",
    ]


def _method_section(results: dict[str, Any]) -> list[str]:
    lines = ["### The services and the client", ""]
    lines += [f"- **{s['label']}**: {s['description']}." for s in results["services"].values()]
    lines += [
        "",
        f"Client: {results['method']['client']} (Python, in the benchmark's process; the"
        " requests are sent one at a time, so its cost adds to every round trip about as much as"
        " the floor above). The servers run with gilfree's default settings, logging at warning"
        " level, on 127.0.0.1.",
        "",
    ]
    return lines


# -- plot -----------------------------------------------------------------------------------------


def plot_latency(results: dict[str, Any], path: Path) -> None:
    latency = results["latency"]
    machine = results["machine"]
    counts = list(latency)
    figure, axes_row = new_figure(
        nrows=1, ncols=len(counts), figsize=(6 * len(counts), 4.2), squeeze=False
    )
    for axes, count in zip(axes_row[0], counts, strict=True):
        variants = latency[count]["variants"]
        keys = list(variants)[::-1]  # the first variant on top
        medians = [variants[key]["median_ms"] for key in keys]
        p90 = [variants[key]["p90_ms"] for key in keys]
        colors = [
            "tab:blue" if results["variants"][key]["service"] == "gilfree" else "tab:orange"
            for key in keys
        ]
        positions = list(range(len(keys)))
        bars = axes.barh(
            positions,
            medians,
            color=colors,
            xerr=[[0.0] * len(keys), [max(0.0, p - m) for p, m in zip(p90, medians, strict=True)]],
            error_kw={"capsize": 3, "elinewidth": 1},
        )
        axes.bar_label(bars, labels=[duration(m) for m in medians], padding=14, fontsize=8)
        axes.set_xscale("log")
        axes.xaxis.set_major_formatter(duration_formatter())
        axes.set_yticks(positions, [_label(results, key) for key in keys], fontsize=8)
        axes.set_xlabel("round trip, median (bar) and p90 (whisker), log scale")
        axes.set_title(f"{int(count):,} numbers, iterations={results['plan']['iterations']}")
        axes.margins(x=0.25)
    figure.suptitle(
        f"POST /process-numbers round trips: {machine['cpu_model']},"
        f" {machine['usable_cpus']} usable CPUs, {machine['date']}",
        fontsize=10,
    )
    save_figure(figure, path)
