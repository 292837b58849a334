"""`make wheel`'s manylinux wheel, installed into a fresh venv with no compiler anywhere on the PATH
(its dependencies as wheels only), serving the quickstart's requests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from gilfree import reference
from tests.server.live import free_port, wait_until_healthy

WHEEL = os.environ.get("GILFREE_TEST_WHEEL")
COMPILERS = ("cc", "c++", "gcc", "g++", "clang", "clang++")
INSTALL_TIMEOUT_S = 600

pytestmark = pytest.mark.skipif(
    WHEEL is None, reason="GILFREE_TEST_WHEEL (set by make test) names the wheel"
)


def test_the_wheel_is_manylinux_and_holds_the_built_modules() -> None:
    assert WHEEL is not None
    assert "-manylinux_" in Path(WHEEL).name, WHEEL
    with zipfile.ZipFile(WHEEL) as wheel:
        names = wheel.namelist()
    for module in ("_core", "_kernels"):
        assert any(n.startswith(f"gilfree/{module}.") and n.endswith(".so") for n in names), names
    assert "gilfree/include/gilfree/kernel.hpp" in names  # the kernel API, for `gilfree new`


def test_installs_without_a_compiler_and_serves_the_quickstart(tmp_path: Path) -> None:
    assert WHEEL is not None
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # The PATH holds the venv and nothing else: no compiler could be found, and none is needed.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GILFREE_", "PYTHON"))}
    env.update(PATH=str(venv / "bin"), CC="/nonexistent/cc", CXX="/nonexistent/c++")
    assert not any(shutil.which(tool, path=env["PATH"]) for tool in COMPILERS)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--disable-pip-version-check", "-q",
         "--only-binary", ":all:", WHEEL],
        check=True, env=env, cwd=tmp_path, timeout=INSTALL_TIMEOUT_S,
    )  # fmt: skip
    where = subprocess.run(
        [python, "-c", "import gilfree; print(gilfree.__file__)"],
        check=True, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert where.stdout.startswith(str(venv)), where.stdout  # the wheel's, not the sources

    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [str(venv / "bin" / "gilfree"), "serve", "--port", str(port)],
            stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, server, log.read_text)
        numbers = [1, 2, 3, -5, 2**63 - 1]
        answer = httpx.post(f"{base}/process-numbers", json={"numbers": numbers}, timeout=30)
        assert answer.status_code == 200
        assert answer.json() == {
            "original_count": len(numbers),
            "processed_result": reference.process_numbers(numbers, 1000),
        }
        squares = httpx.get(f"{base}/sum-squares", params={"a": 3, "b": 4}, timeout=30)
        assert json.loads(squares.content) == {"a": 3, "b": 4, "sum_of_squares": 25}
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()
