"""The example's module, built once a session as a user builds it (pip, against the gilfree
installed here) into a temporary folder put first on sys.path; the example's folder too, for
``corpus`` and ``app``. ``FUZZY_SEARCH_SITE`` names a folder where it is already built instead."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(EXAMPLE))


@pytest.fixture(scope="session")
def fuzzy(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    site = os.environ.get("FUZZY_SEARCH_SITE", "")
    if not site:
        root = tmp_path_factory.mktemp("fuzzy_search")
        site = str(root / "site")
        subprocess.run(
            [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "install",
             "--no-build-isolation", "--no-deps", "--target", site,
             f"-Cbuild-dir={root / 'build'}", str(EXAMPLE)],
            check=True,
            timeout=600,
        )  # fmt: skip
    sys.path.insert(0, site)
    module = importlib.import_module("fuzzy")
    assert Path(module.__file__ or "").parent == Path(site), "another fuzzy module came first"
    return module
