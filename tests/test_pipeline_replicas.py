"""Two in-process Classifiers sharing a real redis-server, as two replicas: waiting for
another replica's verdict holds no thread and never delays this replica's own work."""

from __future__ import annotations

import asyncio
import time

import pytest

from processors.cache import TemplateCache
from processors.pipeline import Classifier
from processors.records import Decision, LogRecord
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from tests.redis_server import REDIS_SERVER, RedisServer

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
MODEL_SECONDS = 1.0


class SlowTier:
    fingerprint = "slow"

    def __init__(self) -> None:
        self.templates = 0

    async def decide(self, templates):
        self.templates += len(templates)
        await asyncio.sleep(MODEL_SECONDS)
        return [Decision("Error", 0.9) for _ in templates]

    def health(self):
        return {"status": "ok"}

    async def aclose(self) -> None:
        return None


def line(word: str) -> LogRecord:
    return LogRecord("LegacyCRM", f"Case escalation for ticket {word} failed")


@pytest.fixture
async def replicas(tmp_path):
    server = RedisServer(tmp_path).start()
    taxonomy = Taxonomy.load(DEFAULT_TAXONOMY_PATH)
    made = []
    for _ in range(2):
        tier = SlowTier()
        made.append((Classifier(taxonomy, {"llm": tier}, TemplateCache(None, redis_url=server.url)),
                     tier))  # fmt: skip
    yield made
    for classifier, _ in made:
        await classifier.aclose()
    server.stop()


async def test_a_shared_hit_is_not_queued_behind_waits_for_other_replicas(replicas):
    (a, _), (b, b_tier) = replicas
    await a.classify([line("warm")])  # in Redis, not in b's memory
    busy = [asyncio.create_task(a.classify([line(w)])) for w in ("xa", "xb", "xc")]
    await asyncio.sleep(0.2)
    waiting = [asyncio.create_task(b.classify([line(w)])) for w in ("xa", "xb", "xc")]
    deadline = time.perf_counter() + 0.5 * MODEL_SECONDS
    while b.cache.stats()["l2"]["leases_held_elsewhere"] < 3:  # all three wait for a now
        assert time.perf_counter() < deadline, "b's requests did not all start waiting"
        await asyncio.sleep(0.01)
    started = time.perf_counter()
    (verdict,) = await b.classify([line("warm")])
    assert verdict.cached and time.perf_counter() - started < 0.3 * MODEL_SECONDS
    await asyncio.gather(*busy, *waiting)
    assert b_tier.templates == 0  # b asked the model about none of them


async def test_a_request_holding_some_keys_computes_them_while_it_waits_for_others(replicas):
    (a, _), (b, b_tier) = replicas
    other = asyncio.create_task(a.classify([line("held")]))
    await asyncio.sleep(0.1)
    started = time.perf_counter()
    verdicts = await b.classify([line("held"), line("new")])
    took = time.perf_counter() - started
    await other
    assert [v.label for v in verdicts] == ["Error", "Error"]
    assert b_tier.templates == 1  # only "new"
    assert took < 1.5 * MODEL_SECONDS  # at the same time, not one after the other
