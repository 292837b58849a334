"""The README's "Your own kernel" section stays true: its files are examples/vowels/ as they are,
and the module built from them prints, and its app answers, what the section shows."""

from __future__ import annotations

import json
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
    ("kind", "names"),
    [
        ("cpp", ["vowels.cpp"]),
        ("cmake", ["CMakeLists.txt"]),
        ("toml", ["pyproject.toml"]),
        ("python", ["demo.py", "app.py"]),
    ],
)
def test_the_sections_files_are_the_examples(kind: str, names: list[str]) -> None:
    assert _blocks(kind) == [(EXAMPLE / name).read_text() for name in names]


# What the section's curl commands send, and what they show (a command, then its answer).
_CURL = re.compile(r"curl -s (?:-X POST )?http://127\.0\.0\.1:\d+(\S+)(?: .*-d '([^']*)')?")

_SERVE = """
import json, sys
from fastapi.testclient import TestClient
from app import app

JSON = {"content-type": "application/json"}
with TestClient(app) as client:
    for path, payload in json.loads(sys.argv[1]):
        if payload is None:
            print(client.get(path).text)
        else:
            print(client.post(path, content=payload, headers=JSON).text)
"""


@pytest.mark.skipif(not EXAMPLE.exists(), reason="runs from a source checkout")
def test_the_example_builds_and_prints_what_the_section_shows(tmp_path: Path) -> None:
    demo, served = _blocks("console")
    shown = demo.splitlines()
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

    # The app, asked what the section's curl commands ask it, answers what the section shows.
    lines = served.splitlines()
    requests, answers = [], []
    for i, line in enumerate(lines):
        found = _CURL.search(line)
        if found:
            requests.append(found.groups())
            answers.append(lines[i + 1])
    served_lines = subprocess.run(
        [sys.executable, "-c", _SERVE, json.dumps(requests)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=EXAMPLE,
        env=dict(os.environ, PYTHONPATH=str(site)),
        check=True,
    ).stdout.splitlines()
    assert len(served_lines) >= len(answers)
    metrics = served_lines[len(answers) - 1 :]  # the last request's answer is the whole /metrics
    assert served_lines[: len(answers) - 1] == answers[:-1]
    assert answers[-1] in metrics
