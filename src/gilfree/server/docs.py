"""Interactive API docs that work offline: Swagger UI served from the swagger-ui-bundle package."""

from __future__ import annotations

import swagger_ui_bundle  # type: ignore[import-untyped]  # the package ships no type information
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

__all__ = ["DOCS_ASSETS_PATH", "mount_offline_docs"]

DOCS_ASSETS_PATH = "/docs-static"


def mount_offline_docs(app: FastAPI, docs_path: str = "/docs") -> None:
    """Serves Swagger UI at ``docs_path`` with every asset from this service, none from a CDN.

    The app must be created with ``docs_url=None`` so that FastAPI's CDN-backed page is not also
    registered. Swagger UI's online spec validator is switched off for the same reason.
    """
    app.mount(
        DOCS_ASSETS_PATH,
        StaticFiles(directory=str(swagger_ui_bundle.swagger_ui_path)),
        name="docs-static",
    )
    oauth2_redirect_path = f"{docs_path}/oauth2-redirect"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        assets = f"{root}{DOCS_ASSETS_PATH}"
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
            oauth2_redirect_url=f"{root}{oauth2_redirect_path}",
            swagger_ui_parameters={"validatorUrl": None},
        )

    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_api_route(docs_path, swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(
        oauth2_redirect_path, swagger_ui_oauth2_redirect, methods=["GET"], include_in_schema=False
    )
