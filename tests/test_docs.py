"""docs/semantics.md against the code: its settings table is Settings', its test vectors are the
ones the kernels are tested with."""

from __future__ import annotations

import ast
from pathlib import Path

from contract_vectors import ITERATIONS, VECTORS
from gilfree.server.settings import Settings

SEMANTICS = Path(__file__).resolve().parent.parent / "docs" / "semantics.md"


def _table_after(heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first Markdown table after ``heading``, header first."""
    lines = SEMANTICS.read_text(encoding="utf-8").splitlines()
    start = lines.index(heading)
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    del rows[1]  # the |---| line
    return rows


def _code(cell: str) -> str:
    assert cell.startswith("`"), cell
    return cell[1 : cell.index("`", 1)]


def test_settings_table_is_the_settings() -> None:
    header, *rows = _table_after("## 4. Settings")
    assert header == ["setting", "env", "default", "meaning"]
    documented = {
        _code(name): (_code(env), ast.literal_eval(_code(default)))
        for name, env, default, _ in rows
    }
    fields = Settings.model_fields
    assert set(documented) == set(fields)
    for name, (env, default) in documented.items():
        assert env == f"GILFREE_{name.upper()}", name
        assert default == fields[name].default, name


def test_test_vectors_are_the_tests() -> None:
    header, *rows = _table_after("## 1. The kernels")
    assert [int(cell) for cell in header[1:]] == list(ITERATIONS)
    assert [(int(row[0]), tuple(int(c) for c in row[1:])) for row in rows] == VECTORS
