"""``gilfree new NAME``: a project of one C++ kernel served by FastAPI, ready for ``make test``.

The project is rendered from ``gilfree/templates/project`` (``{{name}}`` placeholders, and the
``__module__`` directory named after the module). gilfree is not on a package index, so the project
records where its gilfree comes from and its Makefile installs exactly that one into the project's
venv, then builds against it without build isolation:

- ``installed`` (the default): the gilfree that ran ``gilfree new``, as installed. The project's
  venv is made by the same interpreter and sees that installation's site-packages through a
  ``.pth`` file (``gilfree-origin.pth``), behind its own packages.
- a wheel (a path ending in ``.whl``): installed into the venv.
- a source checkout (a directory holding gilfree's ``pyproject.toml``): built and installed into
  the venv (a full build of gilfree: minutes).
"""

from __future__ import annotations

import importlib.metadata
import keyword
import re
import shlex
import sys
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import gilfree

if TYPE_CHECKING:  # importlib.resources.abc from 3.11; importlib.abc has it before
    from importlib.abc import Traversable

__all__ = ["GilfreeSource", "ScaffoldError", "new_project", "source_of"]

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
# Module names a project may not take: they would shadow what it imports or runs.
_TAKEN = frozenset(
    {"gilfree", "fastapi", "starlette", "pydantic", "uvicorn", "nanobind", "pytest", "httpx"}
    | {"app", "test", "tests", "site", "build", "src"}
)
_MODULE_DIR = "__module__"
_ORIGIN_PTH = "gilfree-origin.pth"


class ScaffoldError(ValueError):
    """A project name, target or gilfree source that ``gilfree new`` cannot use."""


@dataclass(frozen=True)
class GilfreeSource:
    """Where a new project's gilfree comes from: ``kind`` is installed, wheel or source; ``path``
    the site-packages directory, the wheel file or the source checkout."""

    kind: str
    path: Path

    def describe(self) -> str:
        return {
            "installed": f"the gilfree installed in {self.path}",
            "wheel": f"the wheel {self.path}",
            "source": f"the gilfree source checkout {self.path}",
        }[self.kind]

    def install_recipe(self) -> list[str]:
        """The Makefile lines (without their tab) that put this gilfree into $(VENV)."""
        path = shlex.quote(str(self.path))
        if self.kind == "installed":
            purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
            lines = [f'cp {_ORIGIN_PTH} "$$($(BIN)/python -c "{purelib}")"/']
        elif self.kind == "wheel":
            lines = [f"$(PIP) install {path}"]
        else:
            lines = [
                "$(PIP) install 'scikit-build-core>=0.10' 'nanobind>=2.4'",
                "$(PIP) install --no-build-isolation"
                f" -Cbuild-dir=$(CURDIR)/build/gilfree-{{wheel_tag}} {path}",
            ]
        # Fails here, with pip's or Python's words, rather than in the project's build.
        lines.append("$(BIN)/python -c 'import gilfree; print(\"gilfree\", gilfree.__version__)'")
        return lines


def _installed() -> GilfreeSource:
    try:
        distribution = importlib.metadata.distribution("gilfree")
    except importlib.metadata.PackageNotFoundError:
        raise ScaffoldError(
            "this gilfree is not installed as a distribution (no metadata found): pass --gilfree"
            " a wheel or a source checkout"
        ) from None
    return GilfreeSource("installed", Path(str(distribution.locate_file(""))).resolve())


def source_of(spec: str) -> GilfreeSource:
    """``installed``, a ``.whl`` file or a gilfree source checkout, checked."""
    if spec == "installed":
        return _installed()
    path = Path(spec).expanduser().resolve()
    if path.suffix == ".whl":
        if not path.is_file():
            raise ScaffoldError(f"no wheel at {path}")
        if not path.name.startswith("gilfree-"):
            raise ScaffoldError(f"{path.name} is not a gilfree wheel")
        return GilfreeSource("wheel", path)
    pyproject = path / "pyproject.toml"
    if path.is_dir() and pyproject.is_file():
        if not re.search(r'^name\s*=\s*"gilfree"', pyproject.read_text(), flags=re.M):
            raise ScaffoldError(f"{path} is not a gilfree source checkout")
        return GilfreeSource("source", path)
    raise ScaffoldError(
        "--gilfree takes 'installed', a gilfree wheel (.whl) or a gilfree source checkout;"
        f" {spec!r} is none of them"
    )


def module_name(name: str) -> str:
    """The Python module of project ``name`` (``my-kernels`` gives ``my_kernels``), checked."""
    if not _NAME.match(name):
        raise ScaffoldError(
            "a project name starts with a letter and has only letters, digits, '-' and '_':"
            f" {name!r}"
        )
    module = name.lower().replace("-", "_")
    if keyword.iskeyword(module) or module in _TAKEN or module in sys.stdlib_module_names:
        raise ScaffoldError(f"{name!r} would shadow the module {module!r}: choose another name")
    return module


def _render(text: str, values: dict[str, str], where: str) -> str:
    def value(match: re.Match[str]) -> str:
        try:
            return values[match.group(1)]
        except KeyError:
            raise RuntimeError(f"template {where} has an unknown placeholder {match[0]}") from None

    return _PLACEHOLDER.sub(value, text)


def _files(root: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for entry in sorted(root.iterdir(), key=lambda entry: entry.name):
        if entry.name == "__pycache__":
            continue
        relative = f"{prefix}{entry.name}"
        if entry.is_dir():
            found.extend(_files(entry, f"{relative}/"))
        else:
            found.append((relative, entry))
    return found


def new_project(name: str, parent: Path, source: GilfreeSource) -> Path:
    """Renders the project ``name`` into ``parent / name`` (which must not exist, or be empty) and
    returns its path."""
    module = module_name(name)
    target = parent / name
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not empty")
    values = {
        "name": name,
        "module": module,
        "gilfree_version": gilfree.__version__,
        "gilfree_from": source.describe(),
        "python": sys.executable,
        "install_gilfree": "\n".join(f"\t{line}" for line in source.install_recipe()),
    }
    for relative, entry in _files(files("gilfree") / "templates" / "project"):
        destination = target / relative.replace(_MODULE_DIR, module)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(_render(entry.read_text(), values, relative))
    if source.kind == "installed":
        # Read by site at the venv's start: that installation's packages come after the venv's own.
        line = f"import site; site.addsitedir({str(source.path)!r})\n"
        (target / _ORIGIN_PTH).write_text(line)
    return target
