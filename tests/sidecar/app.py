"""The app as the sidecar unit tests run it: ``create_app`` with a forwarder whose transport
or stdout the test chooses (a scripted downstream instead of a real one)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

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
    """``create_app(settings)`` whose forwarder is built with ``forwarder_options``."""
    settings = settings or Settings()
    app = create_app(settings, classifier=classifier, registry=registry)
    if not forwarder_options:
        return app
    wired = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with wired(app):
            own = app.state.forwarder  # the app's, closed by its own lifespan
            app.state.forwarder = Forwarder.from_settings(
                settings, registry=app.state.registry, **forwarder_options
            )
            try:
                yield
            finally:
                await app.state.forwarder.aclose()
                app.state.forwarder = own

    app.router.lifespan_context = lifespan
    return app
