"""A model tier slower than the ingest deadline: 503 now, the retry is served from cache."""

import asyncio
from collections.abc import Sequence

from processors.cache import TemplateCache
from processors.pipeline import Classifier
from processors.records import Decision
from processors.taxonomy import Taxonomy

TAXONOMY = """
labels: [{name: Workflow Error, description: a business step failed}]
rules: []
routes: {default: [regex, llm]}
"""


class SlowLlm:
    """Stands in for an LLM server that needs longer than the shipper may wait."""

    name = "llm"
    fingerprint = "slow-llm-1"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls: list[list[str]] = []

    async def decide(self, templates: Sequence[str]) -> list[Decision]:
        self.calls.append(list(templates))
        await asyncio.sleep(self.seconds)
        return [Decision("Workflow Error", 0.9) for _ in templates]

    def health(self) -> dict:
        return {"status": "ok"}

    async def aclose(self) -> None:
        pass


async def test_slow_classification_is_503_then_the_retry_is_answered_from_cache(sidecar):
    llm = SlowLlm(seconds=0.6)
    classifier = Classifier(Taxonomy.parse(TAXONOMY), {"llm": llm}, TemplateCache(None))
    batch = [{"message": f"Case escalation for ticket {n} failed"} for n in range(5)]
    async with sidecar(classifier=classifier, ingest_deadline_seconds=0.2) as http:
        first = await http.post("/api/v1/ingest", json=batch)
        assert first.status_code == 503
        assert first.headers["retry-after"]
        await asyncio.sleep(0.8)  # the first classification finishes in the background
        retry = await http.post("/api/v1/ingest", json=batch)
    assert retry.status_code == 200
    assert {e["log_class"]["label"] for e in retry.json()} == {"Workflow Error"}
    assert all(e["log_class"]["tier"] == "llm" for e in retry.json())
    assert len(llm.calls) == 1  # one template, asked once: the retry hit the cache
