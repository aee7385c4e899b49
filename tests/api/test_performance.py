"""GET /api/v1/performance/stats and POST /api/v1/performance/reset, as a client sees them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from monitoring import MetricsRegistry
from processors.pipeline import Classifier
from processors.taxonomy import Taxonomy
from tests.conftest import app_client

ADMIN = {"Authorization": "Bearer test-admin-token"}
LINES = [
    {"source": "ModernCRM", "log_message": "User User123 logged in."},
    {"source": "ModernCRM", "log_message": "User User7 logged out."},
    {"source": "ModernCRM", "log_message": "something no rule knows about"},
]


@pytest.fixture
def registry() -> MetricsRegistry:
    return MetricsRegistry(window=100)


@pytest.fixture
async def api(settings: Settings, registry: MetricsRegistry) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with its own registry and a regex-only classifier (no model to load)."""
    classifier = Classifier(Taxonomy.load(settings.taxonomy), registry=registry)
    app = create_app(settings, registry=registry, classifier=classifier)
    async with app_client(app) as http:
        yield http


async def test_stats_report_pipeline_timings_tiers_and_http_routes(api: httpx.AsyncClient):
    for _ in range(3):
        assert (await api.post("/api/v1/classify", json={"logs": LINES})).status_code == 200
    response = await api.get("/api/v1/performance/stats")
    assert response.status_code == 200
    stats = response.json()
    classify = stats["functions"]["pipeline.classify"]
    assert classify["calls"] == 3 and classify["errors"] == 0
    assert 0 <= classify["min_ms"] <= classify["p50_ms"] <= classify["p99_ms"] <= classify["max_ms"]
    assert stats["tiers"]["regex"] == 6
    route = stats["functions"]["http.request{method=POST,route=/api/v1/classify}"]
    assert route["calls"] == 3 and route["labels"]["route"] == "/api/v1/classify"
    assert stats["uptime_seconds"] >= stats["measured_seconds"] >= 0


async def test_stats_report_cache_levels_and_slow_functions(
    api: httpx.AsyncClient, registry: MetricsRegistry, settings: Settings
):
    registry.count("cache_hits", 9, level="l1")
    registry.count("cache_misses", 1, level="l1")
    registry.count("cache_misses", 1, level="l2")
    registry.observe("tier.decide", settings.slow_threshold_ms / 1000 * 2, tier="llm")
    registry.observe("tier.decide", 0.001, tier="bert")
    stats = (await api.get("/api/v1/performance/stats/")).json()  # slash variant too
    assert stats["caches"]["l1"] == {"hits": 9, "misses": 1, "hit_rate": 0.9}
    assert stats["caches"]["l2"] == {"hits": 0, "misses": 1, "hit_rate": 0.0}
    assert [slow["function"] for slow in stats["slow_functions"]] == ["tier.decide{tier=llm}"]
    assert stats["slow_threshold_ms"] == settings.slow_threshold_ms


async def test_reset_needs_the_admin_token_and_then_zeroes_measurements(
    api: httpx.AsyncClient, registry: MetricsRegistry
):
    await api.post("/api/v1/classify", json={"logs": LINES})
    assert (await api.post("/api/v1/performance/reset")).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await api.post("/api/v1/performance/reset", headers=wrong)).status_code == 401
    assert registry.snapshot().counter("lines_decided", tier="regex") == 2

    response = await api.post("/api/v1/performance/reset", headers=ADMIN)
    assert response.status_code == 200
    assert "reset_at" in response.json()
    stats = (await api.get("/api/v1/performance/stats")).json()
    assert stats["tiers"] == {} and "pipeline.classify" not in stats["functions"]


async def test_reset_is_refused_when_no_admin_token_is_configured(tmp_path):
    settings = Settings(cache_dir=tmp_path / "cache", admin_token=None)
    registry = MetricsRegistry()
    classifier = Classifier(Taxonomy.load(settings.taxonomy), registry=registry)
    app = create_app(settings, registry=registry, classifier=classifier)
    async with app_client(app) as c:
        response = await c.post("/api/v1/performance/reset", headers=ADMIN)
    assert response.status_code == 403


async def test_stats_schema_is_published_in_openapi(api: httpx.AsyncClient):
    spec = (await api.get("/openapi.json")).json()
    operation = spec["paths"]["/api/v1/performance/stats"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/PerformanceStats")
    schema = spec["components"]["schemas"]["PerformanceStats"]
    assert {"functions", "tiers", "caches", "slow_functions", "uptime_seconds"} <= set(
        schema["properties"]
    )
    assert "FunctionStats" in spec["components"]["schemas"]
    assert "/api/v1/performance/reset" in spec["paths"]
