"""GET /metrics as Prometheus scrapes it: parseable, conventional names, bounded labels."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.main import create_app
from app.settings import Settings
from monitoring import MetricsRegistry
from processors.pipeline import Classifier
from processors.taxonomy import Taxonomy
from tests.conftest import app_client

LINES = [
    {"source": "ModernCRM", "log_message": "User User123 logged in."},
    {"source": "ModernCRM", "log_message": "nothing matches this line"},
]


@pytest.fixture
def registry() -> MetricsRegistry:
    return MetricsRegistry()


@pytest.fixture
async def api(settings: Settings, registry: MetricsRegistry) -> AsyncIterator[httpx.AsyncClient]:
    classifier = Classifier(Taxonomy.load(settings.taxonomy), registry=registry)
    app = create_app(settings, registry=registry, classifier=classifier)
    async with app_client(app) as http:
        yield http


async def scrape(api: httpx.AsyncClient) -> dict[str, list]:
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


def value(samples: list, name: str, **labels: str) -> float:
    matches = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(matches) == 1, f"{name}{labels} in {[(s.name, s.labels) for s in samples]}"
    return matches[0]


async def test_metrics_carry_tier_cache_and_route_series(
    api: httpx.AsyncClient, registry: MetricsRegistry
):
    for _ in range(2):
        await api.post("/api/v1/classify", json={"logs": LINES})
    registry.count("cache_hits", 4, level="l1")
    families = await scrape(api)

    tiers = families["logclass_lines_decided"]  # the parser drops the counter's _total
    assert value(tiers, "logclass_lines_decided_total", tier="regex") == 2
    assert value(families["logclass_cache_hits"], "logclass_cache_hits_total", level="l1") == 4
    requests = families["logclass_http_requests"]
    labels = {"method": "POST", "route": "/api/v1/classify", "status": "2xx"}
    assert value(requests, "logclass_http_requests_total", **labels) == 2
    latency = families["logclass_http_request_duration_seconds"]
    route = {"method": "POST", "route": "/api/v1/classify"}
    assert value(latency, "logclass_http_request_duration_seconds_count", **route) == 2
    assert value(latency, "logclass_http_request_duration_seconds_bucket", le="+Inf", **route) == 2
    pipeline = families["logclass_pipeline_classify_duration_seconds"]
    assert value(pipeline, "logclass_pipeline_classify_duration_seconds_count") == 2
    assert "process_cpu_seconds" in families


async def test_unknown_paths_share_one_series_and_status_classes_are_counted(
    api: httpx.AsyncClient,
):
    for path in ("/nope", "/api/v1/nope/1", "/api/v1/nope/2", "/wp-admin.php"):
        assert (await api.get(path)).status_code == 404
    assert (await api.post("/api/v1/classify", json={"lugs": []})).status_code == 422
    requests = (await scrape(api))["logclass_http_requests"]
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "4xx"}
    assert value(requests, "logclass_http_requests_total", **unmatched) == 4
    invalid = {"method": "POST", "route": "/api/v1/classify", "status": "4xx"}
    assert value(requests, "logclass_http_requests_total", **invalid) == 1
    routes = {s.labels["route"] for s in requests}
    assert not any("nope" in route or "wp-admin" in route for route in routes)


async def test_each_app_exports_only_its_own_registry(settings: Settings):
    first, second = MetricsRegistry(), MetricsRegistry()
    first.count("lines_decided", 5, tier="bert")
    classifier = Classifier(Taxonomy.load(settings.taxonomy), registry=second)
    app = create_app(settings, registry=second, classifier=classifier)
    async with app_client(app) as c:
        text = (await c.get("/metrics")).text
    assert 'tier="bert"' not in text
