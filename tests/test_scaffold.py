"""`gilfree new`: the names and gilfree sources it takes, the project it renders, and that project's
own `make test` and `make serve`, built against the gilfree under test."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import gilfree
from gilfree import scaffold
from gilfree.cli import main

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# The gilfree wheel `make test` builds from this checkout (for a project made from a wheel).
WHEEL = os.environ.get("GILFREE_TEST_WHEEL")


def _clean_env() -> dict[str, str]:
    """The environment without the calling make's variables (a project's make is its own)."""
    return {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}


@pytest.mark.parametrize(
    "name", ["", "1st", "my kernels", "my.kernels", "-x", "gilfree", "class", "json", "Tests"]
)
def test_names_it_refuses(name: str, tmp_path: Path) -> None:
    with pytest.raises(scaffold.ScaffoldError):
        scaffold.new_project(name, tmp_path, scaffold.source_of("installed"))
    assert not any(tmp_path.iterdir())


def test_a_dash_becomes_an_underscore_in_the_module() -> None:
    assert scaffold.module_name("My-Kernels") == "my_kernels"


def test_an_existing_project_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "notes.txt").write_text("mine")
    with pytest.raises(scaffold.ScaffoldError, match="not empty"):
        scaffold.new_project("demo", tmp_path, scaffold.source_of("installed"))
    assert [p.name for p in (tmp_path / "demo").iterdir()] == ["notes.txt"]


def test_the_command_line_says_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new", "class", "--dir", str(tmp_path)]) == 2
    assert "would shadow the module 'class'" in capsys.readouterr().err
    assert main(["new", "demo", "--dir", str(tmp_path), "--gilfree", str(tmp_path)]) == 2
    assert "is none of them" in capsys.readouterr().err


def test_the_sources_it_takes(tmp_path: Path) -> None:
    installed = scaffold.source_of("installed")
    assert installed.kind == "installed"
    assert list(installed.path.glob("gilfree-*.dist-info"))
    with pytest.raises(scaffold.ScaffoldError, match="no wheel"):
        scaffold.source_of(str(tmp_path / "gilfree-0.1.0-py3-none-any.whl"))
    (tmp_path / "other-1.0-py3-none-any.whl").write_bytes(b"")
    with pytest.raises(scaffold.ScaffoldError, match="not a gilfree wheel"):
        scaffold.source_of(str(tmp_path / "other-1.0-py3-none-any.whl"))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\n')
    with pytest.raises(scaffold.ScaffoldError, match="not a gilfree source checkout"):
        scaffold.source_of(str(tmp_path))
    if (ROOT / "pyproject.toml").exists():
        assert scaffold.source_of(str(ROOT)) == scaffold.GilfreeSource("source", ROOT)


def _render(tmp_path: Path, source: scaffold.GilfreeSource, name: str = "demo-kernels") -> Path:
    return scaffold.new_project(name, tmp_path, source)


def test_the_project_it_renders(tmp_path: Path) -> None:
    project = _render(tmp_path, scaffold.source_of("installed"))
    made = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert made == [
        ".gitignore",
        "CMakeLists.txt",
        "Makefile",
        "README.md",
        "gilfree-origin.pth",
        "pyproject.toml",
        "src/demo_kernels/__init__.py",
        "src/demo_kernels/_native.cpp",
        "src/demo_kernels/app.py",
        "tests/test_primes.py",
    ]
    for path in project.rglob("*"):
        if path.is_file():
            assert "{{" not in path.read_text(), path
    pyproject = (project / "pyproject.toml").read_text()
    assert 'name = "demo-kernels"' in pyproject
    assert f'"gilfree>={gilfree.__version__}"' in pyproject
    assert (
        "gilfree_add_kernel_module(_native src/demo_kernels/_native.cpp)"
        in (project / "CMakeLists.txt").read_text()
    )
    site = scaffold.source_of("installed").path
    assert (project / "gilfree-origin.pth").read_text() == (
        f"import site; site.addsitedir({str(site)!r})\n"
    )
    assert f"the gilfree installed in {site}" in (project / "README.md").read_text()


def test_the_rendered_sources_pass_ruff_and_clang_format(tmp_path: Path) -> None:
    project = _render(tmp_path, scaffold.source_of("installed"))
    for command in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        subprocess.run([str(BIN / command[0]), *command[1:]], cwd=project, check=True, timeout=60)
    style = ROOT / ".clang-format"
    if style.exists():
        subprocess.run(
            [str(BIN / "clang-format"), f"--style=file:{style}", "--dry-run", "--Werror",
             str(project / "src" / "demo_kernels" / "_native.cpp")],
            check=True,
            timeout=60,
        )  # fmt: skip


def test_each_source_has_its_install_recipe(tmp_path: Path) -> None:
    wheel = tmp_path / "gilfree-0.1.0-cp311-cp311-linux_x86_64.whl"
    wheel.write_bytes(b"")
    made = _render(tmp_path, scaffold.source_of(str(wheel)), "from-wheel")
    makefile = (made / "Makefile").read_text()
    assert f"\t$(PIP) install {wheel}\n" in makefile
    assert not (made / "gilfree-origin.pth").exists()
    if (ROOT / "pyproject.toml").exists():
        made = _render(tmp_path, scaffold.source_of(str(ROOT)), "from-source")
        assert re.search(rf"\t\$\(PIP\) install --no-build-isolation .* {ROOT}\n", (
            made / "Makefile"
        ).read_text())  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _make_test(project: Path) -> float:
    started = time.monotonic()
    subprocess.run(["make", "-C", str(project), "test"], env=_clean_env(), check=True, timeout=900)
    return time.monotonic() - started


def _make_serve_answers(project: Path) -> None:
    port = _free_port()
    server = subprocess.Popen(
        ["make", "-C", str(project), "serve", f"PORT={port}"],
        env=_clean_env(),
        start_new_session=True,
    )
    try:
        for _ in range(300):
            try:
                url = f"http://127.0.0.1:{port}/primes?below=100"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    assert json.loads(answer.read()) == {"below": 100, "count": 25}
                    return
            except OSError:
                assert server.poll() is None, "make serve exited"
                time.sleep(0.1)
        raise AssertionError("make serve never answered")
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=30)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_a_new_project_passes_its_make_test_and_serves(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gilfree", "new", "demo-kernels", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    project = tmp_path / "demo-kernels"
    assert f"made {project}" in result.stdout
    seconds = _make_test(project)
    print(f"gilfree new to a passing make test: {seconds:.1f} s")
    _make_serve_answers(project)


@pytest.mark.skipif(WHEEL is None, reason="GILFREE_TEST_WHEEL (set by make test) names the wheel")
def test_a_project_made_from_a_wheel_builds_against_it(tmp_path: Path) -> None:
    assert WHEEL is not None
    project = scaffold.new_project("from-wheel", tmp_path, scaffold.source_of(WHEEL))
    _make_test(project)
    venv_python = project / ".venv" / "bin" / "python"
    where = subprocess.run(
        [str(venv_python), "-c", "import gilfree, pathlib; print(pathlib.Path(gilfree.__file__))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert where.startswith(str(project / ".venv")), where  # the wheel's, not this checkout's
