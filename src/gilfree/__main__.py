"""`python -m gilfree`: the command line (`--cmake-dir`, `--include-dir`, `serve`, `info`)."""

from __future__ import annotations

import sys

from gilfree.cli import main

if __name__ == "__main__":
    sys.exit(main())
