"""Secrets never leave the process: the LLM key, admin and API tokens appear in no log line,
no stdout/stderr, no health, stats, metrics or schema, though they were all in use. And the
per-line limit: over-long lines are truncated and flagged, or refused in ``reject`` mode."""

from __future__ import annotations

import logging

import httpx
import pytest

from app.main import create_app
from processors.pipeline import Classifier
from processors.records import Decision
from processors.taxonomy import Taxonomy
from processors.templates import mask
from tests.conftest import app_client
from tests.hardening.conftest import ScriptedTier, offline_settings
from tests.llm_fixtures import running_llm_server

LLM_KEY = "MARKER-llm-key-7f3a"
ADMIN = "MARKER-admin-token-91c2"
API = "MARKER-api-token-55d0"
MARKERS = (LLM_KEY, ADMIN, API)
CRM = [{"source": "LegacyCRM", "log_message": f"Case escalation for ticket {i} failed"}
       for i in range(3)]  # fmt: skip
LONG_LINE = "Backup completed successfully." + " and then some more words" * 10


@pytest.mark.e2e
async def test_keys_and_tokens_never_appear_in_logs_output_or_endpoints(tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)  # every logger, every level: httpx, uvicorn, ours
    seen: list[str] = []
    with running_llm_server("--api-key", LLM_KEY) as llm:
        settings = offline_settings(
            tmp_path, llm_base_url=llm.url(), llm_api_key=LLM_KEY, admin_token=ADMIN,
            api_token=API, llm_max_retries=0, llm_breaker_failures=1,
        )  # fmt: skip
        app = create_app(settings)
        auth = {"Authorization": f"Bearer {API}"}
        admin = {"Authorization": f"Bearer {ADMIN}"}
        async with app_client(app) as http:
            ok = await http.post("/api/v1/classify", json={"logs": CRM}, headers=auth)
            assert {r["tier"] for r in ok.json()["results"]} == {"llm"}  # the key was used
            assert llm.stats()["authorization"][-1] == f"Bearer {LLM_KEY}"
            llm.script("500", default="500")  # now failures: error paths log the most
            more = [{**line, "log_message": line["log_message"] + " again"} for line in CRM]
            failed = await http.post("/api/v1/classify", json={"logs": more}, headers=auth)
            assert failed.json()["results"][0]["reason"] == "llm_unavailable"
            for response in (
                ok, failed,
                await http.post("/api/v1/classify", json={"logs": CRM}, headers=admin),
                await http.post("/api/v1/performance/clear-cache", headers=auth),
                await http.post("/api/v1/performance/clear-cache", headers=admin),
                await http.get("/api/v1/health"),
                await http.get("/api/v1/performance/stats"),
                await http.get("/metrics"),
                await http.get("/openapi.json"),
            ):  # fmt: skip
                seen.append(response.text)
            seen.append(repr(settings))
            seen.append(str(app.state.classifier.health()))
    out, err = capfd.readouterr()
    seen += [caplog.text, out, err]
    assert "llm circuit breaker is now open" in caplog.text  # the error paths did run
    for marker in MARKERS:
        leaks = [text[:200] for text in seen if marker in text]
        assert not leaks, f"{marker} leaked: {leaks}"


class SureTier(ScriptedTier):
    def answer(self, template: str) -> Decision:
        return Decision("Error", 0.9)


async def over_long(tmp_path, mode: str) -> httpx.Response:
    settings = offline_settings(tmp_path, max_line_chars=40, long_lines=mode)
    taxonomy = Taxonomy.load(settings.taxonomy)
    tiers = {"bert": SureTier("bert", taxonomy.label_names)}
    classifier = Classifier(taxonomy, tiers, max_line_chars=settings.max_line_chars)
    app = create_app(settings, classifier=classifier)
    logs = [{"source": "App", "log_message": "short"}, {"source": "", "log_message": LONG_LINE}]
    async with app_client(app) as http:
        return await http.post("/api/v1/classify", json={"logs": logs})


async def test_over_long_lines_are_classified_on_their_start_and_flagged(tmp_path):
    response = await over_long(tmp_path, "truncate")
    assert response.status_code == 200
    short, long = response.json()["results"]
    assert long["template"] == mask(LONG_LINE[:40])
    assert (long["label"], long["tier"], long["reason"]) == ("Error", "bert", "truncated")
    assert short["reason"] != "truncated"


async def test_over_long_lines_are_refused_in_reject_mode_naming_the_line(tmp_path):
    response = await over_long(tmp_path, "reject")
    assert response.status_code == 413
    assert response.json()["detail"].startswith("line 1 has 280 characters, at most 40")
