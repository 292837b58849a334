"""The checked-in _core.pyi must be what nanobind.stubgen makes of the built module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gilfree


def test_core_stub_is_in_sync(tmp_path: Path) -> None:
    generated = tmp_path / "_core.pyi"
    subprocess.run(
        [sys.executable, "-m", "nanobind.stubgen", "-q", "-m", "gilfree._core", "-o", generated],
        check=True,
    )
    checked_in = Path(gilfree.__file__).with_name("_core.pyi")
    assert checked_in.read_text() == generated.read_text(), (
        "src/gilfree/_core.pyi is stale: run `make stubs`"
    )
