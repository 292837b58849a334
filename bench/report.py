"""Assembles BENCHMARKS.md at the repository root from the sections the benchmarks wrote.

Every ``bench/out/*.md`` present becomes one section (kernels.md, runtime.md and service.md first,
any other in name order), under a generated header: the date, the machines the sections' runs name
in their JSON (``bench/out/<section>.json``, key ``machine``), and how to regenerate. BENCHMARKS.md
is committed, so the images it shows must be too: each image a section links by a relative path is
copied from bench/out into bench/results/ and the link rewritten to point there; PNGs left in
bench/results/ that no section shows any more are removed. Nothing is typed by hand.

    python -m bench.report                  # after the benchmarks (make bench does both)
    python -m bench.report --out-dir bench/out --results bench/results --output BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Section", "assemble", "collect_sections", "main"]

REPO_ROOT = Path(__file__).resolve().parent.parent
SECTION_ORDER = ("kernels", "runtime", "service")  # the rest follow in name order
_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<target>[^)\s]+)\)")


@dataclass(frozen=True)
class Section:
    name: str  # the file's stem: kernels, runtime, ...
    markdown: str
    machine: dict[str, Any] | None
    mode: str | None


def collect_sections(out_dir: Path) -> list[Section]:
    """The sections in bench/out, in report order."""
    paths = sorted(out_dir.glob("*.md"))

    def order(path: Path) -> tuple[int, str]:
        stem = path.stem
        rank = SECTION_ORDER.index(stem) if stem in SECTION_ORDER else len(SECTION_ORDER)
        return rank, stem

    sections = []
    for path in sorted(paths, key=order):
        machine: dict[str, Any] | None = None
        mode: str | None = None
        raw_path = path.with_suffix(".json")
        if raw_path.is_file():
            try:
                raw = json.loads(raw_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raw = {}
            if isinstance(raw, dict):
                found = raw.get("machine")
                machine = found if isinstance(found, dict) else None
                mode = raw.get("mode") if isinstance(raw.get("mode"), str) else None
        text = path.read_text(encoding="utf-8").strip()
        if text:
            sections.append(Section(path.stem, text, machine, mode))
    return sections


def _is_relative_link(target: str) -> bool:
    return not (re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("/", "#")))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _first_heading(markdown: str) -> str | None:
    for line in markdown.splitlines():
        match = re.match(r"^#{1,6}\s+(.*)$", line)
        if match:
            return match.group(1).strip()
    return None


def _demote_title(markdown: str) -> str:
    """A section's own top-level title becomes a second-level one under the document's."""
    return re.sub(r"^# ", "## ", markdown, count=1, flags=re.MULTILINE)


def _machine_line(machine: dict[str, Any]) -> str:
    parts = [str(machine.get("cpu_model") or "unknown CPU")]
    if machine.get("cpu_id"):
        parts[0] += f" ({machine['cpu_id']})"
    if machine.get("usable_cpus") is not None:
        parts.append(f"{machine['usable_cpus']} usable CPUs")
    if machine.get("simd_level"):
        parts.append(f"SIMD level {machine['simd_level']}")
    if machine.get("python"):
        parts.append(str(machine["python"]))
    return ", ".join(parts)


def rewrite_images(
    section: Section, out_dir: Path, results_dir: Path, output: Path, copied: set[str]
) -> str:
    """The section with its relative image links pointing into results_dir, the files copied."""

    def replace(match: re.Match[str]) -> str:
        target = match.group("target")
        if not _is_relative_link(target):
            return match.group(0)
        source = out_dir / target
        if not source.is_file():
            print(f"report: {section.name}.md shows {target}, which is missing", file=sys.stderr)
            return match.group(0)
        destination = results_dir / source.name
        if source.name in copied:
            print(f"report: two sections show an image named {source.name}", file=sys.stderr)
        copied.add(source.name)
        shutil.copyfile(source, destination)
        link = Path(os.path.relpath(destination, output.parent)).as_posix()
        return f"![{match.group('alt')}]({link})"

    return _IMAGE.sub(replace, section.markdown)


def assemble(out_dir: Path, results_dir: Path, output: Path) -> str:
    """BENCHMARKS.md's text; copies the images into results_dir as a side effect."""
    sections = collect_sections(out_dir)
    if not sections:
        raise FileNotFoundError(f"no benchmark sections (*.md) in {out_dir}: run `make bench`")
    results_dir.mkdir(parents=True, exist_ok=True)
    copied: set[str] = set()
    bodies = [rewrite_images(s, out_dir, results_dir, output, copied) for s in sections]
    for stale in results_dir.glob("*.png"):
        if stale.name not in copied:
            stale.unlink()

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    lines = [
        "# gilfree benchmarks",
        "",
        "<!-- Generated by bench/report.py from bench/out/*.md: edit the benchmarks, not this"
        " file. -->",
        "",
        f"Assembled on {now} from the latest run of each benchmark. Regenerate everything with"
        " `make bench` (it runs the benchmarks, then `python -m bench.report`); every figure below"
        " comes out of those runs and each ratio compares peers measured in the same run.",
        "",
    ]
    # One machine if every section names the same CPU and CPU count; described by the section
    # that says the most about it.
    described = [s.machine for s in sections if s.machine]
    same_machine = len({(m.get("cpu_model"), m.get("usable_cpus")) for m in described}) == 1
    if same_machine:
        richest = max(described, key=lambda m: len(_machine_line(m)))
        lines += [f"Machine: {_machine_line(richest)}.", ""]
    rows = []
    for section, body in zip(sections, bodies, strict=True):
        heading = _first_heading(_demote_title(body)) or section.name
        cells = [
            f"[{heading}](#{_slug(heading)})",
            str(section.machine.get("date", "")) if section.machine else "",
            section.mode or "",
        ]
        if not same_machine:
            cells.append(_machine_line(section.machine) if section.machine else "")
        rows.append("| " + " | ".join(cells) + " |")
    header = ["section", "run on", "mode"] + ([] if same_machine else ["machine"])
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *rows, ""]
    for body in bodies:
        lines += [_demote_title(body), ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description="Assemble BENCHMARKS.md from bench/out."
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
    print(f"report: wrote {args.output} (images in {args.results})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
