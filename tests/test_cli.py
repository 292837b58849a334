"""The gilfree command line: info output and argument errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gilfree
from gilfree.cli import main


def test_info_names_simd_and_threads(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"gilfree {gilfree.__version__}" in out
    assert "cpu simd:" in out
    assert f"threads:     {gilfree.threads()}" in out


def _info(*flags: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``gilfree info`` in a fresh interpreter, with ``env`` added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "gilfree.cli", "info", *flags],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        timeout=60,
    )


def test_info_json_honours_gilfree_threads() -> None:
    result = _info("--json", GILFREE_THREADS="3")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["threads"] == 3
    assert info["build_type"] == os.environ.get("GILFREE_EXPECT_BUILD_TYPE", "Release")
    assert set(info) >= {"version", "compiler", "simd", "usable_cpus"}


@pytest.mark.parametrize(
    ("pin", "pinned"), [("0", False), ("true", True), ("auto", False), ("", False)]
)
def test_info_json_reports_the_pinned_threads(pin: str, pinned: bool) -> None:
    threads = len(os.sched_getaffinity(0)) + 1  # more than one per CPU: auto leaves them free
    result = _info("--json", GILFREE_THREADS=str(threads), GILFREE_PIN_THREADS=pin)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pinned_threads"] == (threads if pinned else 0)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("GILFREE_THREADS", "lots", "GILFREE_THREADS must be a positive integer"),
        ("GILFREE_PIN_THREADS", "often", "GILFREE_PIN_THREADS must be true, false or auto"),
    ],
)
def test_a_bad_variable_is_a_clear_error(variable: str, value: str, message: str) -> None:
    result = _info(**{variable: value})
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize(
    "argv", [["serve", "--port", "0"], ["serve", "--port", "70000"], ["serve", "--threads", "x"]]
)
def test_serve_rejects_bad_flags(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "error" in capsys.readouterr().err


def test_the_kernel_api_is_located_for_builds() -> None:
    def located(flag: str) -> Path:
        result = subprocess.run(
            [sys.executable, "-m", "gilfree", flag],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return Path(result.stdout.strip())

    cmake = located("--cmake-dir")
    assert (cmake / "gilfreeConfig.cmake").is_file()
    assert (cmake / "gilfreeKernelModule.cmake").is_file()
    assert "gilfree_add_kernel_module" in (cmake / "gilfreeKernelModule.cmake").read_text()
    include = located("--include-dir")
    for header in ("abi.h", "kernel.hpp", "python.hpp"):
        assert (include / "gilfree" / header).is_file()
    # The headers installed are the ones in the source tree (the CMake package ships them).
    source = Path(__file__).parents[1] / "include" / "gilfree" / "abi.h"
    if source.exists():
        assert (include / "gilfree" / "abi.h").read_text() == source.read_text()


def test_a_command_or_a_location_is_needed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2
    assert "--cmake-dir" in capsys.readouterr().err
