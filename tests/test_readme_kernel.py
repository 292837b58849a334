"""The README's "Your own kernel" section stays true: its files are examples/vowels/ as they are,
and the module built from them prints what the section shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "vowels"


def _section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Your own kernel")
    return readme[start : readme.index("\n## ", start + 1)]


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", _section(), flags=re.S)


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("cpp", "vowels.cpp"),
        ("cmake", "CMakeLists.txt"),
        ("toml", "pyproject.toml"),
        ("python", "demo.py"),
    ],
)
def test_the_sections_files_are_the_examples(kind: str, name: str) -> None:
    assert _blocks(kind) == [(EXAMPLE / name).read_text()]


@pytest.mark.skipif(not EXAMPLE.exists(), reason="runs from a source checkout")
def test_the_example_builds_and_prints_what_the_section_shows(tmp_path: Path) -> None:
    (console,) = _blocks("console")
    shown = console.splitlines()
    run_at = next(i for i, line in enumerate(shown) if line.endswith("demo.py"))
    expected = shown[run_at + 1 :]
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "install",
         "--no-build-isolation", "--no-deps", "--target", str(site),
         f"-Cbuild-dir={tmp_path / 'build'}", str(EXAMPLE)],
        check=True,
        timeout=600,
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, str(EXAMPLE / "demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(site)),
        check=True,
    )
    assert result.stdout.splitlines() == expected
