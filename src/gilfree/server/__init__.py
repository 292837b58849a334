"""gilfree's HTTP service: ``create_app`` builds the FastAPI app, ``Settings`` configures it."""

from __future__ import annotations

from gilfree.server.app import create_app
from gilfree.server.settings import Settings

__all__ = ["Settings", "create_app"]
