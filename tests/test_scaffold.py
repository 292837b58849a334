"""`gilfree new`: the names and gilfree sources it takes, the project it renders, and that project's
own `make test` and `make serve`, built against the gilfree under test."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import gilfree
from gilfree import scaffold
from gilfree.cli import main
from tests.server.live import free_port, wait_until_healthy

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


def _make_test(project: Path) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(
        ["make", "-C", str(project), "--no-print-directory", "test"],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return time.monotonic() - started, result.stdout


GUIDE = ROOT / "docs" / "kernels.md"


def _guide_sessions() -> list[list[str]]:
    """The guide's console blocks, as lines."""
    return [b.splitlines() for b in re.findall(r"```console\n(.*?)```", GUIDE.read_text(), re.S)]


def _shown_after(session: list[str], command: str) -> list[str]:
    """What the guide shows a command printing (up to the next command)."""
    at = session.index(f"$ {command}") + 1
    end = next((i for i in range(at, len(session)) if session[i].startswith("$ ")), len(session))
    return session[at:end]


def _same_site(text: str) -> str:
    return re.sub(r"the gilfree installed in \S+", "the gilfree installed in SITE", text)


def _recipes(output: str) -> list[str]:
    """make's echoed commands and what they printed before pytest started, and pytest's verdict."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "test session starts" in line)
    shown = [line.replace(sys.executable, "PYTHON") for line in lines[:start]]
    verdict = [line for line in lines[start:] if re.search(r"collected|passed", line)]
    return [*shown, *(re.sub(r" in [\d.]+s ", " ", line) for line in verdict)]


_CURL = re.compile(r"curl -s (?:-H '([^:]+): ([^']+)' )?'?(http://127\.0\.0\.1:8000[^' ]*)'?(.*)")


def _serve_the_guides_requests(project: Path, session: list[str]) -> None:
    """Runs `make serve` and the guide's curl commands against it: each prints what the guide
    shows."""
    port = free_port()
    server = subprocess.Popen(
        ["make", "-C", str(project), "serve", f"PORT={port}"],
        env=_clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", server, lambda: "(make serve's output)")
        for line in session:
            found = _CURL.match(line.removeprefix("$ "))
            if not found:
                continue
            header, value, url, rest = found.groups()
            request = urllib.request.Request(
                url.replace(":8000", f":{port}"), headers={header: value} if header else {}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    text = answer.read().decode()
            except urllib.error.HTTPError as error:
                text = error.read().decode()
            if rest.startswith(" | grep "):
                text = "\n".join(t for t in text.splitlines() if rest[len(" | grep ") :] in t)
            assert text.splitlines() == _shown_after(session, line.removeprefix("$ ")), line
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=30)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.skipif(not GUIDE.exists(), reason="runs from a source checkout")
def test_the_guide_from_gilfree_new_to_a_served_route(tmp_path: Path) -> None:
    new, build, serve = _guide_sessions()[:3]
    result = subprocess.run(
        [sys.executable, "-m", "gilfree", "new", "fastprimes"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert (
        _same_site(result.stdout).splitlines()
        == _same_site("\n".join(_shown_after(new, "gilfree new fastprimes"))).splitlines()
    )
    project = tmp_path / "fastprimes"
    seconds, output = _make_test(project)
    print(f"gilfree new to a passing make test: {seconds:.1f} s")
    shown = "\n".join(_shown_after(build, "make test"))
    shown = shown.replace("/work/main/.venv/bin/python", "PYTHON")  # the guide's interpreter
    assert _recipes(output) == _recipes(shown)
    _serve_the_guides_requests(project, serve)


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
