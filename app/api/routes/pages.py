"""Browser pages: the landing page at ``/`` and the live dashboard at ``/dashboard``.

The pages are static files in ``app/static`` (hand-written, no build step); the dashboard's
script polls the JSON API itself. Every page is sent with a Content-Security-Policy that
allows only this host, so a page can neither load nor send anything elsewhere, and no data
the script inserts can run as code.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
# The only files served, with their types: a name not listed here is a 404, never a path.
ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "panels.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def _page(name: str, media_type: str = "text/html; charset=utf-8") -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=SECURITY_HEADERS)


@router.get("/")
async def landing() -> FileResponse:
    """Links to the docs, ReDoc, the dashboard, health and the Prometheus metrics."""
    return _page("index.html")


@router.get("/dashboard")
async def dashboard() -> FileResponse:
    """Live charts from ``/api/v1/performance/stats`` and ``/api/v1/health``."""
    return _page("dashboard.html")


@router.get("/dashboard/assets/{name}")
async def dashboard_asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dashboard asset named {name!r}")
    return _page(name, media_type)
