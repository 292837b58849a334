"""The checked-in stubs of the native modules must be what nanobind.stubgen makes of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import gilfree


@pytest.mark.parametrize("module", ["_core", "_kernels"])
def test_stub_is_in_sync(tmp_path: Path, module: str) -> None:
    generated = tmp_path / f"{module}.pyi"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "nanobind.stubgen",
            "-q",
            "-m",
            f"gilfree.{module}",
            "-o",
            generated,
        ],
        check=True,
    )
    checked_in = Path(gilfree.__file__).with_name(f"{module}.pyi")
    assert checked_in.read_text() == generated.read_text(), (
        f"src/gilfree/{module}.pyi is stale: run `make stubs`"
    )
