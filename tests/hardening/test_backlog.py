"""Queued work is bounded in lines (LOGCLASS_MAX_QUEUED_LINES), work that outlived its
request included: past the bound every classifying route answers 503 + Retry-After at
once, before reading the body when the backlog is already full; lines come back to the
backlog when their classification really ends, however the request ended."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.main import create_app
from monitoring import MetricsRegistry
from processors.pipeline import Classifier
from tests.conftest import app_client
from tests.hardening.conftest import offline_settings
from tests.hardening.test_overload import TAXONOMY, GatedTier, word
from tests.sidecar.app import sidecar_app
from tests.sidecar.conftest import Downstream

BOUND = 10
ROUTES = ("/api/v1/classify", "/api/v1/classify/csv", "/classify/", "/api/v1/ingest", "/v1/logs")


def lines(count: int, tag: str) -> list[str]:
    """``count`` lines of distinct templates (so each is its own tier work)."""
    return [f"job {word(i)} {tag} stalled" for i in range(count)]


def csv_body(rows: list[str]) -> bytes:
    return ("source,log_message\n" + "".join(f"App,{row}\n" for row in rows)).encode()


def otlp_json(rows: list[str]) -> dict[str, Any]:
    records = [{"body": {"stringValue": row}} for row in rows]
    return {"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}


class Service:
    def __init__(self, http: httpx.AsyncClient, app: Any, tier: GatedTier,
                 registry: MetricsRegistry, downstream: Downstream) -> None:  # fmt: skip
        self.http, self.app, self.tier = http, app, tier
        self.registry, self.downstream = registry, downstream

    @property
    def queued(self) -> int:
        return self.app.state.backlog.queued

    def post(self, route: str, rows: list[str]) -> asyncio.Task[httpx.Response]:
        """Posts ``rows`` to ``route`` in the form that route takes."""
        if route == "/api/v1/classify":
            logs = [{"source": "App", "log_message": row} for row in rows]
            request = self.http.post(route, json={"logs": logs})
        elif route in ("/api/v1/classify/csv", "/classify/"):
            request = self.http.post(route, files={"file": ("logs.csv", csv_body(rows))})
        elif route == "/api/v1/ingest":
            request = self.http.post(route, json=[{"message": row} for row in rows])
        else:
            request = self.http.post(route, json=otlp_json(rows))
        return asyncio.create_task(request)

    async def at_once(self, request: asyncio.Task[httpx.Response]) -> httpx.Response:
        """The answer to ``request``, which must not wait for the (gated) model tier."""
        async with asyncio.timeout(2):
            return await request

    async def until(self, condition: Any) -> None:
        async with asyncio.timeout(5):
            while not condition():
                await asyncio.sleep(0.005)

    def rejected(self, when: str) -> float:
        return self.registry.snapshot().counter("backlog_rejected", when=when)


@pytest.fixture
async def service(tmp_path) -> AsyncIterator[Service]:
    tier, registry, downstream = GatedTier(), MetricsRegistry(), Downstream()
    classifier = Classifier(TAXONOMY, {"bert": tier}, registry=registry)
    settings = offline_settings(
        tmp_path, max_queued_lines=BOUND, ingest_deadline_seconds=0.2,
        forward_url="http://collector/v1/logs",
    )  # fmt: skip
    app = sidecar_app(settings, classifier, registry, transport=downstream.transport)
    async with app_client(app, timeout=10) as http:
        yield Service(http, app, tier, registry, downstream)
        tier.gate.set()
        await service_drained(app)


async def service_drained(app: Any) -> None:
    async with asyncio.timeout(5):
        while app.state.backlog.queued:
            await asyncio.sleep(0.005)


@pytest.mark.parametrize("route", ["/api/v1/ingest", "/v1/logs"])
async def test_work_that_outlived_its_deadline_still_holds_its_lines(service, route):
    detached = await service.post(route, lines(8, "first"))
    assert detached.status_code == 503  # the deadline passed; classification goes on
    assert service.queued == 8 and service.tier.waiting == 1
    seen = service.tier.templates_seen

    refused = await service.at_once(service.post(route, lines(5, "second")))
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert "LOGCLASS_MAX_QUEUED_LINES" in refused.json()["detail"]
    assert service.tier.templates_seen == seen  # the pipeline never saw the refused lines
    assert service.rejected("after_count") == 1

    service.tier.gate.set()
    await service.until(lambda: service.queued == 0)  # released when the work really ended
    assert (await service.post(route, lines(5, "second"))).status_code == 200


@pytest.mark.parametrize("route", ["/api/v1/classify", "/api/v1/classify/csv", "/classify/"])
async def test_lines_that_do_not_fit_are_refused_at_once_and_the_rest_go_on(service, route):
    held = service.post(route, lines(6, "held"))
    await service.until(lambda: service.tier.waiting == 1)
    assert service.queued == 6

    refused = await service.at_once(service.post(route, lines(6, "over")))  # `held` waits
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert "LOGCLASS_MAX_QUEUED_LINES" in refused.json()["detail"]
    fits = service.post(route, lines(4, "fits"))
    await service.until(lambda: service.queued == 10)

    service.tier.gate.set()
    assert (await held).status_code == 200 and (await fits).status_code == 200
    assert service.queued == 0


@pytest.mark.parametrize("route", ROUTES)
async def test_a_full_backlog_refuses_before_the_body_is_read(service, route):
    detached = await service.post("/api/v1/ingest", lines(BOUND, "full"))
    assert detached.status_code == 503 and service.queued == BOUND
    read = []

    async def body() -> AsyncIterator[bytes]:
        read.append(True)
        yield b"not even the right format"

    posted = service.http.post(route, content=body(), headers={"Content-Type": "text/plain"})
    refused = await service.at_once(asyncio.ensure_future(posted))
    assert refused.status_code == 503  # not 400/415/422: the body was never looked at
    assert refused.headers["retry-after"] == "1"
    assert "LOGCLASS_MAX_QUEUED_LINES" in refused.json()["detail"]
    assert read == []
    assert service.rejected("before_body") == 1
    reads = ("/api/v1/health", "/metrics", "/docs")
    for path in reads:
        assert (await service.http.get(path)).status_code == 200, path


@pytest.mark.parametrize("route", ["/api/v1/classify", "/api/v1/classify/csv"])
async def test_a_client_that_goes_away_gives_its_lines_back(service, route):
    gone = service.post(route, lines(7, "gone"))
    await service.until(lambda: service.tier.waiting == 1)
    assert service.queued == 7
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    await service.until(lambda: service.queued == 0)


async def test_a_batch_larger_than_the_bound_is_admitted_alone(service):
    service.tier.gate.set()
    response = await service.post("/api/v1/classify", lines(BOUND + 5, "big"))
    assert response.status_code == 200 and len(response.json()["results"]) == BOUND + 5
    assert service.queued == 0


async def test_lines_come_back_when_forwarding_fails(service):
    service.tier.gate.set()
    service.downstream.default = 400  # refused for good: 502 after classifying
    assert (await service.post("/api/v1/ingest", lines(6, "refused"))).status_code == 502
    assert service.queued == 0


async def test_the_backlog_is_a_metric(tmp_path):
    registry = MetricsRegistry()
    app = create_app(offline_settings(tmp_path), registry=registry)
    async with app_client(app) as http:
        assert app.state.backlog.limit == 100_000  # LOGCLASS_MAX_QUEUED_LINES default
        text = (await http.get("/metrics")).text
    assert "logclass_backlog_queued_lines 0.0" in text
