"""HttpMetricsMiddleware and route templates on a small app of its own."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from app.http_metrics import UNMATCHED, HttpMetricsMiddleware, RouteTemplates
from monitoring import MetricsRegistry, monitor_performance

router = APIRouter()


@monitor_performance("lookup")
def lookup(item_id: int) -> dict[str, int]:
    if item_id < 0:
        raise ValueError("negative id")
    return {"id": item_id}


@router.get("/items/{item_id}")
def get_item(item_id: int) -> dict[str, int]:
    return lookup(item_id)


@router.get("/files/{rest:path}")
def get_file(rest: str) -> dict[str, str]:
    return {"rest": rest}


def build(registry: MetricsRegistry) -> FastAPI:
    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    app.add_middleware(HttpMetricsMiddleware, registry=registry)
    return app


async def test_requests_are_labelled_by_route_template_not_raw_url():
    registry = MetricsRegistry()
    transport = httpx.ASGITransport(app=build(registry))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for item in (1, 2, 3):
            assert (await client.get(f"/api/v1/items/{item}")).status_code == 200
        assert (await client.get("/api/v1/files/a/b/c.txt")).status_code == 200
    snap = registry.snapshot()
    labels = {"method": "GET", "route": "/api/v1/items/{item_id}"}
    assert snap.counter("http.requests", status="2xx", **labels) == 3
    assert snap.timer("http.request", **labels).calls == 3  # type: ignore[union-attr]
    assert (
        snap.counter("http.requests", method="GET", route="/api/v1/files/{rest:path}", status="2xx")
        == 1
    )
    assert snap.timer("lookup").calls == 3  # type: ignore[union-attr]  # bound per request


async def test_a_crashing_handler_is_a_5xx_error_and_the_exception_still_propagates():
    registry = MetricsRegistry()
    transport = httpx.ASGITransport(app=build(registry), raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with pytest.raises(ValueError, match="negative id"):
            await client.get("/api/v1/items/-1")
    snap = registry.snapshot()
    labels = {"method": "GET", "route": "/api/v1/items/{item_id}"}
    assert snap.counter("http.requests", status="5xx", **labels) == 1
    assert snap.timer("http.request", **labels).errors == 1  # type: ignore[union-attr]
    assert snap.timer("lookup").errors == 1  # type: ignore[union-attr]


async def test_without_a_registry_requests_pass_through_unmeasured():
    app = FastAPI()
    app.include_router(router)
    app.add_middleware(HttpMetricsMiddleware)  # and no app.state.registry
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/items/5")).json() == {"id": 5}


def test_route_templates_ignore_a_trailing_slash_and_fall_back_to_unmatched():
    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    templates = RouteTemplates(list(app.routes))
    assert templates.resolve("/api/v1/items/7/") == "/api/v1/items/{item_id}"
    assert templates.resolve("/api/v1/files/x/y") == "/api/v1/files/{rest:path}"
    assert templates.resolve("/docs") == "/docs"
    assert templates.resolve("/api/v2/items/7") == UNMATCHED
