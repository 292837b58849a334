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
_FLOOR = "echo"
_SHORT_TYPES = {"application/json": "JSON", "application/octet-stream": "octet-stream"}


def write_all(results: dict[str, Any], out: Path) -> list[Path]:
    measured = results["distributions"].values()
    plot = plot_latency if any(d.get("latency") for d in measured) else None
    return write_report(results, out, (JSON_NAME, MARKDOWN_NAME, PLOT_NAME), render_markdown, plot)


# -- formatting ----------------------------------------------------------------------------------


def size(num_bytes: float) -> str:
    """Bytes as text with three significant digits, in B, KiB or MiB (a minus sign before)."""
    if num_bytes < 0:
        return f"-{size(-num_bytes)}"
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
    distributions = results["distributions"]
    command = "python -m bench.wire_bench" + (" --quick" if results["mode"] == "quick" else "")
    if len(plan["values"]) == 1:
        command += f" --values {plan['values'][0]}"
    kinds = [f"{d['description']} (*{d['label']}*)" for d in distributions.values()]
    values = (
        ", in turn, " + ", ".join(kinds[:-1]) + " and " + kinds[-1]
        if len(kinds) > 1
        else " " + "".join(kinds)
    )
    lines = [
        "## Wire: POST /process-numbers round trips, JSON and octet-stream, against the original"
        " FastAPI style",
        "",
        generated_by(machine, command, "in gilfree's server") + f" The numbers sent are{values}, at"
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
    for measured_values in results["distributions"].values():
        for count, measured in measured_values.get("latency", {}).items():
            other = measured["other_cores_busy"]
            if other > QUIET_CORES:
                warnings.append(
                    f"{other:.2f} cores were busy with other processes while the"
                    f" {int(count):,}-number round trips ({measured_values['label']}) were timed"
                )
    return noise_warning(results["machine"], warnings)


def _targets_section(results: dict[str, Any]) -> list[str]:
    lines = targets_section(results["targets"], _goal_and_shown)
    big = str(results["plan"]["rss_numbers"])
    requests = 1 + results["plan"]["rss_later_requests"]
    retained_notes, model_notes, floor_notes = [], [], []
    for measured in results["distributions"].values():
        label = measured["label"]
        variants = measured.get("latency", {}).get(big, {}).get("variants", {})
        model, json_in = variants.get("original_model"), variants.get(_REFERENCE)
        octet = variants.get("gilfree_octet")
        floor = variants.get(_FLOOR)
        memory = measured.get("memory", {}).get(_REFERENCE)
        if floor and octet and json_in:
            floor_notes += [
                f"Not a target, the floor under it, with {label}: echoing the same octet-stream"
                f" bytes with a bare ASGI app on the same stack took {duration(floor['median_ms'])}"
                f" (median); gilfree's octet-stream round trip is"
                f" {ratio(octet['median_ms'] / floor['median_ms'])} that, its JSON one"
                f" {ratio(json_in['median_ms'] / floor['median_ms'])}. No octet-stream path on"
                " this stack can be more than the latter times faster than this JSON path.",
                "",
            ]
        if memory:
            retained = memory["idle_rss_after_kib"] - memory["fresh_idle_rss_kib"]
            retained_notes += [
                f"Not a target, for scale, with {label}: over {requests} such requests in a row,"
                f" gilfree's JSON path peaked {size(memory['worst_extra_over_fresh_kib'] * 1024)}"
                f" over the fresh server's idle RSS ({ratio(memory['worst_multiple_of_body'])} the"
                f" body), and its idle RSS afterwards was {_change(retained * 1024)} than before"
                " them (memory kept for the next requests: gilfree's buffer cache, the allocator's"
                " heap).",
                "",
            ]
        if model and json_in:
            model_notes += [
                f"Not a target, for scale, with {label}: against the original style with"
                " `response_model=` (the faster of the two FastAPI-only ways measured here),"
                f" gilfree's JSON round trip of {int(big):,} numbers is"
                f" {ratio(model['median_ms'] / json_in['median_ms'])} faster"
                + (
                    f", its octet-stream one {ratio(model['median_ms'] / octet['median_ms'])}."
                    if octet
                    else "."
                ),
                "",
            ]
    return lines + floor_notes + retained_notes + model_notes


def _change(num_bytes: float) -> str:
    """A change in bytes as text: "1.2 MiB higher", "72 KiB lower"."""
    return f"{size(abs(num_bytes))} {'lower' if num_bytes < 0 else 'higher'}"


def _goal_and_shown(target: dict[str, Any]) -> tuple[str, str]:
    measured = target["measured"]
    shown = "-" if measured is None else ratio(measured)
    return f"{target['goal']} {target['limit']:g}x", shown


def _latency_section(results: dict[str, Any]) -> list[str]:
    distributions = results["distributions"]
    if not any(measured.get("latency") for measured in distributions.values()):
        return []
    plan = results["plan"]
    lines = [
        "### Round-trip latency",
        "",
        f"One request at a time on a keep-alive connection per variant; the time runs from the"
        f" first byte of the request sent to the last byte of the answer read. For each kind of"
        f" numbers and each size, the variants take turns in {plan['rounds']} rounds (a burst of"
        f" other work on the machine hits them all alike), each getting as many requests per"
        f" round as fit {duration(plan['round_budget_s'] * 1e3)} by its warm-up latency (1 to"
        f" {plan['max_per_round']}), after {plan['warm_up_requests']} warm-up requests, the first"
        " of them verified. *Server CPU* is the server process's on-CPU time per request, all"
        " its threads together; *server page faults* its minor page faults per request (pages"
        " of memory mapped in afresh: buffers the allocator maps and unmaps every time).",
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
    for measured_values in distributions.values():
        for count, measured in measured_values.get("latency", {}).items():
            lines += [
                f"#### {int(count):,} numbers, {measured_values['label']}",
                "",
                *_latency_table(results, measured),
                "",
                f"While these were timed ({measured['wall_s']:.3g} s), the machine's cores were"
                f" busy {measured['machine_cores_busy']:.2f} on average: the servers"
                f" {measured['servers_cores_busy']:.2f}, the client"
                f" {measured['client_cores_busy']:.2f}, other processes"
                f" {measured['other_cores_busy']:.2f}.",
                "",
            ]
    lines += [f"![Round-trip latency]({PLOT_NAME})", ""]
    return lines


def _latency_table(results: dict[str, Any], measured: dict[str, Any]) -> list[str]:
    variants = measured["variants"]
    reference = variants.get(_REFERENCE)
    original = variants.get(_ORIGINAL)
    # Runs before the fault count was added have none.
    with_faults = all("server_faults_per_request" in entry for entry in variants.values())
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
        row += [duration(entry["server_cpu_ms_per_request"])]
        if with_faults:
            row.append(f"{entry['server_faults_per_request']:,.0f}")
        row.append(str(entry["requests"]))
        rows.append(row)
    header = ["variant", "request body", "answer", "median", "p90"]
    if original:
        header.append("original style / this (speed-up)")
    if reference:
        header.append("this / gilfree JSON")
    header.append("server CPU per request")
    if with_faults:
        header.append("server page faults per request")
    header.append("requests")
    return table(header, rows)


def _memory_section(results: dict[str, Any]) -> list[str]:
    distributions = results["distributions"]
    measured = {key: d["memory"] for key, d in distributions.items() if d.get("memory")}
    if not measured:
        return []
    plan, method = results["plan"], results["method"]
    poll = duration(method["rss_poll_s"] * 1e3)
    reset = all(
        t["hwm_reset"] for memory in measured.values() for e in memory.values() for t in e["tries"]
    )
    how = (
        "the kernel's high-water mark (`VmHWM`, reset through `/proc/PID/clear_refs` just"
        f" before the request) or `VmRSS` sampled every {poll} during it, whichever is higher"
        if reset
        else f"`VmRSS` sampled every {poll} during it (this kernel would not reset `VmHWM`,"
        " so a peak shorter than that can be missed)"
    )
    requests = 1 + plan["rss_later_requests"]
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
    warm = min([*plan["sizes"], plan["rss_numbers"]])
    lines = [
        f"### Peak memory of one {plan['rss_numbers']:,}-number request",
        "",
        f"For each kind of numbers, each variant gets a fresh server, one verified warm-up"
        f" request of {warm:,} numbers, then {requests} requests of {plan['rss_numbers']:,}"
        f" numbers one after another. Before each, the server idles"
        f" {duration(method['rss_settle_s'] * 1e3)}; its RSS then is the idle RSS; its peak RSS"
        f" while it answers is {how}. *Peak - idle* is over the idle RSS just before that"
        " request; *peak - fresh idle* is over the idle RSS before the first large request, so"
        " that memory kept from an earlier request (by a buffer cache or the allocator; it raises"
        " the idle RSS and so hides itself from the first figure) counts too. */ body* divides by"
        " the request body's"
        " size. The target reads the first request's *peak - idle*.",
        "",
    ]
    for key, memory in measured.items():
        rows = []
        for variant, entry in memory.items():
            first, body = entry["tries"][0], entry["body_bytes"]
            at = first["sampled_peak_at_s"]
            rows.append(
                [
                    _label(results, variant),
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
        lines += [f"#### {distributions[key]['label']}", "", *table(header, rows), ""]
    return lines


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
    """One row of panels per kind of numbers, one column per size (its x axis shared)."""
    machine = results["machine"]
    rows = [d for d in results["distributions"].values() if d.get("latency")]
    counts = list(rows[0]["latency"])
    figure, axes_grid = new_figure(
        nrows=len(rows),
        ncols=len(counts),
        figsize=(6 * len(counts), 4.2 * len(rows)),
        squeeze=False,
        sharex="col",
    )
    for row_index, (axes_row, measured) in enumerate(zip(axes_grid, rows, strict=True)):
        for axes, count in zip(axes_row, counts, strict=True):
            variants = measured["latency"][count]["variants"]
            keys = list(variants)[::-1]  # the first variant on top
            medians = [variants[key]["median_ms"] for key in keys]
            p90 = [variants[key]["p90_ms"] for key in keys]
            service_colors = {"gilfree": "tab:blue", "echo": "tab:gray"}
            colors = [
                service_colors.get(results["variants"][key]["service"], "tab:orange")
                for key in keys
            ]
            positions = list(range(len(keys)))
            whiskers = [max(0.0, p - m) for p, m in zip(p90, medians, strict=True)]
            bars = axes.barh(
                positions,
                medians,
                color=colors,
                xerr=[[0.0] * len(keys), whiskers],
                error_kw={"capsize": 3, "elinewidth": 1},
            )
            axes.bar_label(bars, labels=[duration(m) for m in medians], padding=14, fontsize=8)
            axes.set_xscale("log")
            axes.xaxis.set_major_formatter(duration_formatter())
            axes.set_yticks(positions, [_label(results, key) for key in keys], fontsize=8)
            if row_index == len(rows) - 1:
                axes.set_xlabel("round trip, median (bar) and p90 (whisker), log scale")
            axes.set_title(f"{int(count):,} numbers, {measured['label']}", fontsize=10)
            axes.margins(x=0.25)
    figure.suptitle(
        f"POST /process-numbers?iterations={results['plan']['iterations']} round trips:"
        f" {machine['cpu_model']},"
        f" {machine['usable_cpus']} usable CPUs, {machine['date']}",
        fontsize=10,
    )
    save_figure(figure, path)
