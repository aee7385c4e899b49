"""Swagger UI at ``/docs`` and ReDoc at ``/redoc``, with every asset served by the app itself.

FastAPI's own pages load their JavaScript and CSS from a CDN, so they stay blank on a
network without internet access. :func:`install_offline_docs` replaces them with pages
whose assets come from the ``fastapi-offline`` package's static folder, mounted under
:data:`ASSETS_URL`. Guarantee: the pages make no request outside the serving host; their
Content-Security-Policy has the browser enforce it (ReDoc's footer logo, the one remote
asset in its bundle, is blocked and hides itself).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/static-offline-docs"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")

SWAGGER_UI_PARAMETERS: dict[str, Any] = {
    "displayRequestDuration": True,  # the latency a user sees is the first thing they ask
    "docExpansion": "list",
    "defaultModelsExpandDepth": 0,  # schemas are shown under each operation already
    "tryItOutEnabled": False,
    "filter": True,
    # a token typed into "Authorize" lives in the page only: never in localStorage, where any
    # script of this origin (or a later user of the browser) could read it
    "persistAuthorization": False,
}
# Both UIs run inline script/style of their own; everything else must come from this host.
DOCS_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; base-uri 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def install_offline_docs(
    app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc"
) -> None:
    """Serve ``docs_url`` and ``redoc_url`` with local assets.

    Build the app with ``docs_url=None, redoc_url=None`` so FastAPI registers no CDN-backed
    pages there. Raises ``FileNotFoundError`` at start-up if the package's assets are missing.
    """
    missing = [name for name in ASSET_FILES if not (ASSETS_DIR / name).is_file()]
    if missing:
        raise FileNotFoundError(f"fastapi-offline assets missing in {ASSETS_DIR}: {missing}")
    if app.openapi_url is None:
        raise ValueError("the docs pages need the OpenAPI schema: keep openapi_url set")
    openapi_url = app.openapi_url
    oauth2_url = app.swagger_ui_oauth2_redirect_url or f"{docs_url}/oauth2-redirect"
    app.docs_url, app.redoc_url = docs_url, redoc_url
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="offline-docs-assets")
    parameters = {**SWAGGER_UI_PARAMETERS, **(app.swagger_ui_parameters or {})}

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _secured(get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=root + oauth2_url,
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=parameters,
        ))

    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _secured(get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,  # fonts from Google would be a request off the host
        ))

    app.add_api_route(docs_url, swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(oauth2_url, swagger_ui_oauth2_redirect, include_in_schema=False)
    app.add_api_route(redoc_url, redoc, methods=["GET"], include_in_schema=False)


def _secured(response: HTMLResponse) -> HTMLResponse:
    response.headers.update(DOCS_HEADERS)
    return response

