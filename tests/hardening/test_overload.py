"""Requests in flight are capped: beyond LOGCLASS_MAX_CONCURRENT_REQUESTS the answer is an
immediate 503 with Retry-After and a JSON message, never an unbounded queue; reads (health,
metrics, docs) are never refused; every slot comes back, however the request ended."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from app.main import create_app
from monitoring import MetricsRegistry
from processors.pipeline import Classifier
from processors.records import Decision
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from tests.conftest import app_client
from tests.hardening.conftest import ScriptedTier, offline_settings

TAXONOMY = Taxonomy.load(DEFAULT_TAXONOMY_PATH)


class GatedTier(ScriptedTier):
    """Holds every batch until ``gate`` opens: requests stay in flight as long as a test likes."""

    def __init__(self) -> None:
        super().__init__("bert", TAXONOMY.label_names)
        self.gate = asyncio.Event()
        self.waiting = 0

    async def decide(self, templates: Sequence[str]) -> list[Decision]:
        self.waiting += 1
        try:
            await self.gate.wait()
        finally:
            self.waiting -= 1
        return await super().decide(templates)


class Service:
    def __init__(self, http: httpx.AsyncClient, tier: GatedTier, registry: MetricsRegistry,
                 classifier: Classifier) -> None:  # fmt: skip
        self.http, self.tier, self.registry, self.classifier = http, tier, registry, classifier

    def classify(self, *lines: str) -> asyncio.Task[httpx.Response]:
        logs = [{"source": "App", "log_message": line} for line in lines]
        return asyncio.create_task(self.http.post("/api/v1/classify", json={"logs": logs}))

    async def until_waiting(self, count: int) -> None:
        async with asyncio.timeout(5):
            while self.tier.waiting < count:
                await asyncio.sleep(0.005)

    def gauge(self, name: str) -> float | None:
        return self.registry.snapshot().gauge(name)


@pytest.fixture
async def service(tmp_path, request) -> AsyncIterator[Service]:
    limit = getattr(request, "param", 2)
    tier, registry = GatedTier(), MetricsRegistry()
    classifier = Classifier(TAXONOMY, {"bert": tier}, registry=registry)
    settings = offline_settings(tmp_path, max_concurrent_requests=limit)
    app = create_app(settings, registry=registry, classifier=classifier)
    async with app_client(app, timeout=10) as http:
        yield Service(http, tier, registry, classifier)
        tier.gate.set()


async def test_request_over_the_limit_gets_503_with_retry_after_and_json(service):
    held = [service.classify("job alpha stalled"), service.classify("job beta stalled")]
    await service.until_waiting(2)

    refused = await service.classify("job gamma stalled")
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert "LOGCLASS_MAX_CONCURRENT_REQUESTS" in refused.json()["detail"]

    reads = ("/api/v1/health", "/metrics", "/docs", "/openapi.json", "/api/v1/performance/stats")
    for path in reads:
        assert (await service.http.get(path)).status_code == 200, path  # reads are exempt

    service.tier.gate.set()
    for task in held:
        response = await task
        assert response.status_code == 200 and len(response.json()["results"]) == 1
    assert (await service.classify("job delta stalled")).status_code == 200
    assert service.gauge("http_in_flight") == 0
    assert service.registry.snapshot().counter("http_overload_rejected") == 1


async def test_a_client_that_goes_away_gives_its_slot_back(service):
    gone = service.classify("job epsilon stalled")
    other = service.classify("job zeta stalled")
    await service.until_waiting(2)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert service.gauge("http_in_flight") == 1

    service.tier.gate.set()
    assert (await other).status_code == 200
    calls = service.tier.calls
    again = await service.classify("job epsilon stalled")  # the same line: not stuck in-flight
    assert again.status_code == 200
    assert again.json()["results"][0]["reason"] != "cancelled"
    assert service.tier.calls == calls + 1  # decided afresh, not served a leftover
    assert service.gauge("http_in_flight") == 0
    assert service.classifier._inflight == {}


def word(number: int) -> str:
    """A distinct digit-free word per number (digits would be masked to one template)."""
    return chr(97 + number % 26) + chr(97 + number // 26) + "x"


@pytest.mark.parametrize("service", [8], indirect=True)
async def test_a_flood_admits_only_the_limit_and_refuses_the_rest_at_once(service):
    flood = [service.classify(f"job {word(i)} stalled") for i in range(200)]  # 200 templates
    await service.until_waiting(8)
    await asyncio.sleep(0.05)  # let every other request reach the limit check
    refused = [t for t in flood if t.done()]
    assert len(refused) == 192 and all(t.result().status_code == 503 for t in refused)
    assert service.tier.waiting == 8  # the pipeline never saw more than the limit

    service.tier.gate.set()
    admitted = [await t for t in flood if t not in refused]
    assert [r.status_code for r in admitted] == [200] * 8
    assert service.gauge("http_in_flight") == 0
