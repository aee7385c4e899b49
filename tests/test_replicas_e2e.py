"""Two real ``logclass serve`` replicas sharing one real ``redis-server``, the LLM test
server counting what it is asked: a template new to both replicas is sent to the model
once; Redis killed mid-load → no 5xx, no line lost; Redis back → shared again.

Lines are ``LegacyCRM`` lines (route ``[regex, llm]``: no embedding model is loaded) with
fresh words, so every request brings templates new to the fleet, and regex lines. Skips
where ``redis-server`` is not installed (``.ci/run`` installs it). Also checks the
structure of the deployment files that run replicas (``docker-compose.yml``,
``examples/kubernetes/replicas-redis.yaml``), which cannot run here.
"""

from __future__ import annotations

import asyncio
import random
import string
import time

import httpx
import pytest
import yaml

from processors.templates import mask
from tests.conftest import REPO
from tests.hardening.processes import LlmProcess, LogclassProcess, Seen, keep_posting
from tests.redis_server import REDIS_SERVER, RedisServer

needs_redis = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
PASSWORD = "MARKER-redis-e2e-5b7"
rng = random.Random(16)


def fresh() -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=10))


def crm(word: str) -> dict[str, str]:
    return {"source": "LegacyCRM", "log_message": f"Case escalation for ticket {word} failed"}


def llm_templates(llm: LlmProcess) -> int:
    """Templates the model was asked about since the last reset (a call carries many)."""
    assert llm.server is not None
    return sum(r["n"] for r in llm.server.stats()["requests"])


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path_factory.mktemp("redis"), password=PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def llm():
    # slow enough that both replicas meet the same templates while the first asks the model
    server = LlmProcess(delay_ms=300).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, redis_server, llm):
    env = {
        "LOGCLASS_REDIS_URL": redis_server.url,
        "LOGCLASS_LLM_BASE_URL": llm.base_url,
        "LOGCLASS_LLM_MAX_RETRIES": "0",
        "LOGCLASS_BERT_PRELOAD": "false",
        "LOGCLASS_REDIS_LEASE_SECONDS": "5",
        # generous for a loaded CI machine: a lease lost to a slow command costs a duplicate
        "LOGCLASS_REDIS_TIMEOUT_SECONDS": "1",
        "LOGCLASS_ADMIN_TOKEN": "MARKER-adm-16",
    }
    started = [LogclassProcess(tmp_path_factory.mktemp(f"replica{i}"), **env) for i in range(2)]
    try:
        for replica in started:
            replica.start()
        yield started
    finally:
        for replica in started:
            replica.stop()


async def cache_health(url: str) -> dict:
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        return (await http.get("/api/v1/health")).json()["components"]["cache"]


async def post_to_both(replicas, batches: list[list[dict[str, str]]]) -> list[httpx.Response]:
    """Every batch to every replica, all at once."""
    async with httpx.AsyncClient(timeout=60) as http:
        return await asyncio.gather(*(
            http.post(f"{replica.url}/api/v1/classify", json={"logs": batch})
            for batch in batches
            for replica in replicas
        ))  # fmt: skip


async def assert_classified_once_across_replicas(replicas, llm, distinct: int = 60) -> None:
    words = [fresh() for _ in range(distinct)]
    batches = [[crm(w) for w in words[i::3]] for i in range(3)]  # 3 requests per replica
    llm.server.reset()
    answers = await post_to_both(replicas, batches)
    assert [a.status_code for a in answers] == [200] * len(answers)
    by_template: dict[str, set[str]] = {}
    for answer in answers:
        for result in answer.json()["results"]:
            assert result["tier"] == "llm", result
            by_template.setdefault(result["template"], set()).add(result["label"])
    assert len(by_template) == distinct
    assert all(len(labels) == 1 for labels in by_template.values())  # both replicas agree
    asked = llm_templates(llm)
    assert asked <= distinct * 1.01, f"the model was asked {asked} times for {distinct}"


@needs_redis
@pytest.mark.e2e
async def test_new_templates_sent_to_both_replicas_at_once_reach_the_model_once(replicas, llm):
    for replica in replicas:
        assert (await cache_health(replica.url))["backend"] == "redis"
    await assert_classified_once_across_replicas(replicas, llm)
    # and what one replica learned, the other serves from the shared level
    word = fresh()
    async with httpx.AsyncClient(timeout=30) as http:
        first = await http.post(f"{replicas[0].url}/api/v1/classify", json={"logs": [crm(word)]})
        llm.server.reset()
        second = await http.post(f"{replicas[1].url}/api/v1/classify", json={"logs": [crm(word)]})
    assert first.json()["results"][0]["cached"] is False
    assert second.json()["results"][0]["cached"] is True
    assert llm_templates(llm) == 0


@needs_redis
@pytest.mark.e2e
async def test_redis_killed_mid_load_loses_nothing_and_sharing_resumes(replicas, llm,
                                                                       redis_server):  # fmt: skip
    repeated = [crm(fresh()) for _ in range(4)]

    def make_logs() -> list[dict[str, str]]:
        regex = {"source": "App", "log_message": f"User User{rng.randint(1, 99)} logged in."}
        return [regex, *repeated, crm(fresh()), crm(fresh())]

    seen, stop = Seen(), asyncio.Event()
    posting = [asyncio.create_task(keep_posting(r.url, make_logs, seen, stop, clients=2))
               for r in replicas]  # fmt: skip
    try:
        await asyncio.sleep(1.5)
        await asyncio.to_thread(redis_server.kill)
        killed = time.monotonic()
        await asyncio.sleep(2.5)
        down = [await cache_health(r.url) for r in replicas]
        await asyncio.to_thread(redis_server.start)  # same port, empty
        restarted = time.monotonic()
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        await asyncio.gather(*posting)
    recovered = []
    for replica in replicas:  # reconnects by itself: a probe every cool-down (2 s)
        deadline = time.monotonic() + 10
        while (await cache_health(replica.url))["status"] != "ok":
            assert time.monotonic() < deadline, "a replica did not reconnect to Redis"
            await asyncio.sleep(0.1)
        recovered.append(time.monotonic() - restarted)

    assert seen.answers, "the clients got no answers at all"
    for _, logs, answer in seen.answers:
        assert isinstance(answer, httpx.Response), f"a client saw {answer!r}"
        assert answer.status_code == 200, answer.text  # no 5xx, ever
        results = answer.json()["results"]
        assert [r["template"] for r in results] == [mask(log["log_message"]) for log in logs]
        assert all(r["tier"] in ("regex", "llm") for r in results), results  # all classified
    during = [a for t, _, a in seen.answers if killed + 0.5 < t < restarted]
    assert len(during) >= 10  # the replicas kept answering while Redis was gone
    for health in down:
        assert health["status"] == "degraded" and health["backend"] == "redis"
        assert health["last_error"]
    assert max(recovered) < 10

    await assert_classified_once_across_replicas(replicas, llm)  # shared again

    for replica in replicas:  # the password shows nowhere
        assert PASSWORD not in replica.output()
        assert PASSWORD not in str(await cache_health(replica.url))


@needs_redis
@pytest.mark.e2e
async def test_admin_clear_cache_clears_the_shared_level(replicas, llm):
    word = fresh()
    async with httpx.AsyncClient(timeout=30) as http:
        await http.post(f"{replicas[0].url}/api/v1/classify", json={"logs": [crm(word)]})
        cleared = await http.post(f"{replicas[0].url}/api/v1/performance/clear-cache",
                                  headers={"Authorization": "Bearer MARKER-adm-16"})  # fmt: skip
        llm.server.reset()
        again = await http.post(f"{replicas[1].url}/api/v1/classify", json={"logs": [crm(word)]})
    assert cleared.status_code == 200 and cleared.json()["cleared"]["l2"] >= 1
    assert again.json()["results"][0]["cached"] is False  # not in Redis any more
    assert llm_templates(llm) == 1


# -- the deployment files (structure only: no Docker or cluster here) ---------------------------


def test_compose_runs_two_replicas_sharing_a_redis():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    logclass = services["logclass"]
    replicas = str(logclass["deploy"]["replicas"])  # "${LOGCLASS_REPLICAS:-2}": its default
    assert int(replicas.rsplit("-", 1)[-1].rstrip("}")) >= 2
    assert logclass["environment"]["LOGCLASS_REDIS_URL"].startswith("redis://redis:")
    assert "redis" in logclass["depends_on"]
    assert "container_name" not in logclass  # replicas need generated names
    redis_service = services["redis"]
    assert "ports" not in redis_service  # only logclass talks to it
    assert "allkeys-lru" in redis_service["command"]


def test_kubernetes_example_runs_replicas_on_one_redis_with_the_password_in_a_secret():
    docs = list(yaml.safe_load_all((REPO / "examples/kubernetes/replicas-redis.yaml").read_text()))
    kinds = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    deployment = kinds["Deployment", "logclass"]
    assert deployment["spec"]["replicas"] >= 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert "secretKeyRef" in env["REDIS_PASSWORD"]["valueFrom"]
    url = env["LOGCLASS_REDIS_URL"]["value"]
    assert url.startswith("redis://:$(REDIS_PASSWORD)@logclass-redis:")
    names = list(env)
    assert names.index("REDIS_PASSWORD") < names.index("LOGCLASS_REDIS_URL")  # $(...) order
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/v1/health/ready"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert ("Service", "logclass-redis") in kinds and ("Service", "logclass") in kinds
