"""The LLM tier as the service builds and uses it: settings, fingerprint, pipeline, and the
test server's fidelity to the server families it stands in for."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from app.main import create_app
from app.settings import Settings
from monitoring import MetricsRegistry
from processors.llm import LlmTier
from processors.llm_prompt import label_schema
from processors.pipeline import Classifier
from processors.records import LogRecord, Tier
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from tests.conftest import app_client
from tests.llm_fixtures import LlmServer, refused_url

TAXONOMY = Taxonomy.load(DEFAULT_TAXONOMY_PATH)



async def test_from_settings_reads_the_llm_section_and_keeps_the_key_secret() -> None:
    settings = Settings(
        llm_base_url="http://127.0.0.1:9/v1/",
        llm_model="qwen2.5:0.5b",
        llm_api_key=SecretStr("sk-live-abc"),
        llm_structured_output="ollama",
        llm_batch_size=7,
        llm_max_retries=0,
        llm_breaker_failures=2,
    )
    tier = LlmTier.from_settings(settings, TAXONOMY)
    try:
        assert isinstance(tier, Tier) and tier.name == "llm"
        assert (tier.base_url, tier.model, tier.mode) == (
            "http://127.0.0.1:9/v1",
            "qwen2.5:0.5b",
            "ollama",
        )
        assert tier.client is not None
        assert (tier.batch_size, tier.client.max_retries, tier.breaker.failures) == (7, 0, 2)
        assert "sk-live-abc" not in repr(settings) + repr(tier.health())
        assert tier.health()["status"] == "ok" and tier.health()["configured"] is True
    finally:
        await tier.aclose()


async def test_health_never_shows_a_password_in_the_base_url() -> None:
    tier = LlmTier(TAXONOMY, "http://user:hunter2@127.0.0.1:9/v1", "m")
    try:
        assert "hunter2" not in repr(tier.health())
    finally:
        await tier.aclose()


def test_fingerprint_changes_with_model_labels_and_mode_only() -> None:
    def fp(model: str = "m", mode: str = "json_schema", taxonomy: Taxonomy = TAXONOMY) -> str:
        return LlmTier(taxonomy, None, model, structured_output=mode).fingerprint

    other = Taxonomy.parse(
        "labels:\n  - name: Error\n    description: something failed\n", "<test>"
    )
    assert fp() == fp()
    assert fp() == LlmTier(TAXONOMY, None, "m", api_key="k", batch_size=3).fingerprint
    assert len({fp(), fp(model="m2"), fp(mode="choice"), fp(taxonomy=other)}) == 4


@pytest.mark.e2e
async def test_pipeline_routes_undecided_lines_to_the_llm_in_order(llm) -> None:
    tier = LlmTier(TAXONOMY, llm.url(), "m", backoff=0.01)
    classifier = Classifier(TAXONOMY, tiers={"llm": tier})
    records = [
        LogRecord("LegacyCRM", "Case escalation for ticket 7324 failed"),
        LogRecord("LegacyCRM", "User User12 logged in."),  # the regex tier decides this one
        # decided by a template rule, before the LLM
        LogRecord("LegacyCRM", "API endpoint 'getCustomerDetails' is deprecated"),
        LogRecord("LegacyCRM", "Case escalation for ticket 9 failed"),  # same template
    ]
    try:
        verdicts = await classifier.classify(records)
    finally:
        await classifier.aclose()
    assert [(v.label, v.tier) for v in verdicts] == [
        ("Workflow Error", "llm"),
        ("User Action", "regex"),
        ("Deprecation Warning", "regex"),
        ("Workflow Error", "llm"),
    ]
    assert [r["n"] for r in llm.stats()["requests"]] == [1]  # one template left for it, one call
    assert "7324" not in repr(llm.stats()["requests"])
    assert tier.closed


async def test_pipeline_marks_lines_unclassified_when_the_llm_is_down() -> None:
    tier = LlmTier(TAXONOMY, refused_url(), "m", max_retries=0)
    classifier = Classifier(TAXONOMY, tiers={"llm": tier})
    try:
        [verdict] = await classifier.classify([LogRecord("LegacyCRM", "Odd thing 42 happened")])
    finally:
        await classifier.aclose()
    assert (verdict.label, verdict.tier, verdict.reason) == (
        "Unclassified",
        "none",
        "llm_unavailable",
    )
    assert classifier.health()["llm"]["last_error"].startswith("ConnectError")


# -- the test server behaves like the families it imitates ---------------------------------


def _chat(llm: LlmServer, flavor: str, **fields: object) -> httpx.Response:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": '1. "Failed password for <*>"'}],
        **fields,
    }
    return httpx.post(f"{llm.url(flavor)}/chat/completions", json=body, timeout=5)


def _content(response: httpx.Response) -> str:
    return response.json()["choices"][0]["message"]["content"]


SCHEMA = label_schema(TAXONOMY.label_names, None)
NESTED = {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": SCHEMA}}


@pytest.mark.e2e
def test_llamacpp_family_ignores_the_flat_schema_form(llm) -> None:
    flat = _chat(llm, "llamacpp", response_format={"type": "json_schema", "schema": SCHEMA})
    assert _content(flat).startswith("Sure!")
    assert _content(_chat(llm, "llamacpp", response_format=NESTED)) == (
        '{"label": "Security Alert"}'
    )


@pytest.mark.e2e
def test_ollama_family_ignores_format_on_its_openai_endpoint(llm) -> None:
    assert _content(_chat(llm, "ollama", format=SCHEMA)).startswith("Sure!")
    assert "Security Alert" in _content(_chat(llm, "ollama", response_format=NESTED))
    assert llm.stats()["requests"][0]["format"] == SCHEMA  # recorded as received


@pytest.mark.e2e
def test_openai_family_rejects_unknown_fields_and_loose_strict_schemas(llm) -> None:
    assert _chat(llm, "openai", format=SCHEMA).status_code == 400
    loose = {**SCHEMA, "additionalProperties": True}
    bad = {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": loose}}
    assert "additionalProperties" in _chat(llm, "openai", response_format=bad).text
    assert _chat(llm, "openai", response_format=NESTED).status_code == 200


@pytest.mark.e2e
def test_vllm_family_ignores_the_removed_guided_choice(llm) -> None:
    choices = list(TAXONOMY.label_names)
    assert _content(_chat(llm, "vllm", guided_choice=choices)).startswith("Sure!")
    answer = _chat(llm, "vllm", structured_outputs={"choice": choices})
    assert _content(answer) == "Security Alert"


@pytest.mark.e2e
async def test_http_api_classifies_through_the_llm_and_reports_it_in_health(llm, tmp_path) -> None:
    settings = Settings(cache_dir=tmp_path / "cache", llm_base_url=llm.url(), llm_max_retries=0)
    registry = MetricsRegistry()
    tier = LlmTier.from_settings(settings, TAXONOMY, registry)
    classifier = Classifier(TAXONOMY, tiers={"llm": tier}, registry=registry)
    app = create_app(settings, registry=registry, classifier=classifier)
    body = {
        "logs": [
            {"source": "LegacyCRM", "log_message": "Case escalation for ticket 7324 failed"},
            {"source": "LegacyCRM", "log_message": "Invoice 77 has an unknown field"},
        ]
    }
    try:
        async with app_client(app) as http:
            results = (await http.post("/api/v1/classify", json=body)).json()["results"]
            health = (await http.get("/api/v1/health")).json()
    finally:
        await classifier.aclose()
    assert [(r["label"], r["tier"]) for r in results] == [
        ("Workflow Error", "llm"),
        ("System Notification", "llm"),
    ]
    assert health["components"]["llm"]["status"] == "ok"
    assert health["components"]["llm"]["breaker"] == "closed"
