"""Assembles the FastAPI app: settings, lifespan, middleware and routers. No logic here."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app import package_version
from app.admission import Backlog
from app.api.deps import API_TOKEN_RESPONSES, ApiTokenDep
from app.api.routes import cache as cache_routes
from app.api.routes import (
    classify,
    corrections,
    health,
    ingest,
    metrics,
    otlp,
    pages,
    performance,
    templates,
)
from app.docs import install_offline_docs
from app.http_metrics import HttpMetricsMiddleware
from app.overload import OVERLOAD_RESPONSES, ConcurrencyLimitMiddleware
from app.schemas import ErrorResponse
from app.settings import Settings
from app.sidecar import Forwarder
from monitoring import MetricsRegistry
from processors.pipeline import Classifier
from processors.taxonomy import Taxonomy

API_PREFIX = "/api/v1"
# FastAPI answers 400 itself for a body it cannot decode (e.g. JSON that is not UTF-8)
_UNREADABLE_BODY = {400: {"model": ErrorResponse, "description": "the body cannot be decoded"}}


def create_app(
    settings: Settings | None = None,
    *,
    registry: MetricsRegistry | None = None,
    classifier: Classifier | None = None,
) -> FastAPI:
    """A new app; pass ``registry``/``classifier`` to replace the ones settings would build."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.registry = registry or MetricsRegistry(window=settings.metrics_window)
        app.state.classifier = classifier or Classifier.from_settings(
            settings, registry=app.state.registry
        )
        app.state.forwarder = Forwarder.from_settings(settings, registry=app.state.registry)
        app.state.backlog = Backlog.from_settings(settings, registry=app.state.registry)
        app.state.started = time.monotonic()
        await app.state.classifier.start()
        try:
            yield
        finally:
            await app.state.forwarder.aclose()
            if classifier is None:  # we opened it, we close it
                await app.state.classifier.aclose()

    app = FastAPI(
        title="logclass",
        summary="Tags every log line with a category: regex rules, MiniLM embeddings, an LLM.",
        version=package_version(),
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,  # 413 by Content-Length or while streaming
        docs_url=None,  # served offline below, not from a CDN
        redoc_url=None,
    )
    install_offline_docs(app)
    app.add_middleware(  # innermost of the three: its 503s are measured like any answer
        ConcurrencyLimitMiddleware,
        limit=settings.max_concurrent_requests,
        retry_after=settings.overload_retry_after_seconds,
    )
    app.add_middleware(HttpMetricsMiddleware)
    app.add_middleware(TrailingSlashMiddleware)
    if origins := [o.strip() for o in settings.cors_origins.split(",") if o.strip()]:
        app.add_middleware(  # outermost, so refusals carry CORS headers too; off by default
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # outermost: a request naming a host this service is not known by (a DNS-rebinding page
    # posting to loopback) is refused with 400 before anything reads it
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_host_names)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(405, _method_not_allowed)
    # LOGCLASS_API_TOKEN unset: open, and the OpenAPI schema does not claim a bearer is needed
    token = [ApiTokenDep] if settings.api_token is not None else []
    posted = {**_UNREADABLE_BODY, **OVERLOAD_RESPONSES, **(API_TOKEN_RESPONSES if token else {})}
    for router in (classify.router, ingest.router):  # what shippers and clients post to
        app.include_router(router, prefix=API_PREFIX, dependencies=token, responses=posted)
    reads = API_TOKEN_RESPONSES if token else {}
    app.include_router(templates.router, prefix=API_PREFIX, dependencies=token, responses=reads)
    # the labels a correction may name, in its schema: the taxonomy's
    taxonomy = classifier.taxonomy if classifier else Taxonomy.load(settings.taxonomy)
    app.include_router(
        corrections.build_router(taxonomy.label_names, token), prefix=API_PREFIX
    )
    for router in (health.router, performance.router, cache_routes.router):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(classify.compat_router, dependencies=token, responses=posted)
    app.include_router(otlp.router, dependencies=token, responses=posted)
    app.include_router(metrics.router)
    app.include_router(pages.router)
    return app


class TrailingSlashMiddleware:
    """Serves ``/api/v1/x/`` as ``/api/v1/x`` in place: POST clients do not follow redirects."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(API_PREFIX + "/") and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/")}
        await self.app(scope, receive, send)


async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """405 whose ``Allow`` lists every method the path has: Starlette names only those of
    the first route on the path (``/corrections`` has GET, POST and DELETE routes)."""
    methods = sorted({
        method
        for route in request.app.router.routes
        if isinstance(route, Route) and route.methods
        and route.matches(request.scope)[0] == Match.PARTIAL
        for method in route.methods
    })
    return JSONResponse(
        {"detail": "Method Not Allowed"}, 405, headers={"Allow": ", ".join(methods)}
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with pydantic's list of problems, plus a one-line summary a person can read."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return JSONResponse(
        {"detail": jsonable_encoder(errors), "message": f"{where}: {first.get('msg', 'invalid')}"},
        status_code=422,
    )
