"""The app as the sidecar tests run it: ``create_app`` plus the sidecar routers and the
forwarder in the lifespan, for as long as ``app/main.py`` does not wire them itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.routing import NoMatchFound

from app.api.routes import ingest, otlp
from app.main import create_app
from app.settings import Settings
from app.sidecar.forward import Forwarder
from monitoring import MetricsRegistry
from processors.pipeline import Classifier

TAXONOMY = Path(__file__).with_name("taxonomy.yaml")


def sidecar_app(
    settings: Settings | None = None,
    classifier: Classifier | None = None,
    registry: MetricsRegistry | None = None,
    **forwarder_options: Any,
) -> FastAPI:
    """``create_app(settings)`` with ``/api/v1/ingest``, ``/v1/logs`` and a forwarder."""
    settings = settings or Settings()
    app = create_app(settings, classifier=classifier, registry=registry)
    if not serves_sidecar(app):
        app.include_router(ingest.router, prefix="/api/v1")
        app.include_router(otlp.router)
    wired = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with wired(app):
            previous = getattr(app.state, "forwarder", None)
            opened = bool(forwarder_options) or previous is None
            if opened:
                app.state.forwarder = Forwarder.from_settings(
                    settings, registry=app.state.registry, **forwarder_options
                )
            try:
                yield
            finally:
                if opened:
                    await app.state.forwarder.aclose()
                    app.state.forwarder = previous

    app.router.lifespan_context = lifespan
    return app


def serves_sidecar(app: FastAPI) -> bool:
    """Whether ``app`` already has the sidecar routes (app/main.py wires them)."""
    try:
        app.url_path_for("export_logs")
    except NoMatchFound:
        return False
    return True


def served_app() -> FastAPI:
    """For ``uvicorn --factory tests.sidecar.app:served_app``: settings from LOGCLASS_*."""
    return sidecar_app(Settings())
