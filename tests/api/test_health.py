"""GET /api/v1/health (liveness: 200 while the process serves) and GET /api/v1/health/ready
(readiness: 503 while a tier some route needs cannot work), as an orchestrator probes them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from app.main import create_app
from app.settings import Settings
from processors.pipeline import Classifier
from processors.records import Decision
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from tests.conftest import app_client
from tests.hardening.conftest import offline_settings

READY = "/api/v1/health/ready"
LIVE = "/api/v1/health"


class StubTier:
    """A model tier whose health the test sets."""

    fingerprint = "stub"

    def __init__(self, name: str, status: str = "ok", error: str | None = None) -> None:
        self.name, self.status, self.error = name, status, error

    async def decide(self, templates: Sequence[str]) -> list[Decision]:
        return [Decision(None, reason=f"{self.name}_unavailable")] * len(templates)

    def health(self) -> dict[str, Any]:
        return {"status": self.status, "error": self.error, "last_error": self.error}

    async def aclose(self) -> None:
        return None


async def probe(settings: Settings, taxonomy: Taxonomy, **tiers: StubTier) -> dict[str, Any]:
    classifier = Classifier(taxonomy, dict(tiers))
    async with app_client(create_app(settings, classifier=classifier)) as http:
        live, ready = await http.get(LIVE), await http.get(READY)
        head = await http.head(READY)
    return {"live": live, "ready": ready, "head": head}


@pytest.fixture
def taxonomy() -> Taxonomy:
    return Taxonomy.load(DEFAULT_TAXONOMY_PATH)


async def test_ready_when_every_tier_the_routes_need_works(settings, taxonomy):
    answers = await probe(settings, taxonomy, bert=StubTier("bert"), llm=StubTier("llm"))
    assert answers["ready"].status_code == answers["head"].status_code == 200
    assert answers["ready"].json() == {"ready": True, "blocking": {}}


async def test_not_ready_while_bert_cannot_work_and_liveness_stays_200(settings, taxonomy):
    broken = StubTier("bert", "degraded", "No usable temporary directory found")
    answers = await probe(settings, taxonomy, bert=broken, llm=StubTier("llm"))
    assert answers["live"].status_code == 200 and answers["live"].json()["status"] == "degraded"
    assert answers["ready"].status_code == answers["head"].status_code == 503
    assert answers["ready"].json() == {
        "ready": False,
        "blocking": {"bert": "No usable temporary directory found"},
    }


async def test_a_broken_tier_no_route_uses_does_not_block(settings, tmp_path: Path):
    path = tmp_path / "taxonomy.yaml"
    path.write_text(
        "labels:\n  - name: Error\n    description: errors\n"
        "rules:\n  - pattern: '^boom$'\n    label: Error\n"
        "routes:\n  default: [regex, llm]\n"
    )
    broken = StubTier("bert", "degraded", "model folder empty")
    answers = await probe(settings, Taxonomy.load(path), bert=broken, llm=StubTier("llm"))
    assert answers["ready"].status_code == 200


async def test_a_down_llm_server_does_not_take_replicas_out_of_service(settings, taxonomy):
    # every replica shares the LLM server: unready replicas would not bring it back, and the
    # breaker already answers `llm_unavailable` at once
    down = StubTier("llm", "degraded", "connection refused")
    answers = await probe(settings, taxonomy, bert=StubTier("bert"), llm=down)
    assert answers["ready"].status_code == 200


async def test_a_model_that_cannot_load_at_warm_up_makes_the_service_unready(tmp_path):
    settings = offline_settings(tmp_path, bert_warmup=True)  # an empty model folder
    async with app_client(create_app(settings)) as http:
        assert (await http.get(LIVE)).status_code == 200
        ready = await http.get(READY)
    assert ready.status_code == 503 and set(ready.json()["blocking"]) == {"bert"}


async def test_readiness_is_answered_under_overload_and_without_the_api_token(tmp_path):
    settings = offline_settings(tmp_path, api_token="t0ken", max_concurrent_requests=1)
    async with app_client(create_app(settings)) as http:
        assert (await http.get(READY)).status_code == 200
        assert (await http.get(READY + "/")).status_code == 200
