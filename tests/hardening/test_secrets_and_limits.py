"""Secrets never leave the process: the LLM key, admin and API tokens appear in no log line,
no stdout/stderr, no health, stats, metrics or schema, though they were all in use. And the
per-line limit: over-long lines are truncated and flagged, or refused in ``reject`` mode."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from app.main import create_app
from app.sidecar.events import EventFields
from app.sidecar.forward import Forwarder
from processors.pipeline import Classifier
from processors.records import Decision
from processors.redaction import redact_url
from processors.taxonomy import Taxonomy
from processors.templates import mask
from tests.conftest import app_client, free_port
from tests.hardening.conftest import ScriptedTier, offline_settings
from tests.llm_fixtures import running_llm_server
from tests.sidecar.app import sidecar_app
from tests.sidecar.conftest import Downstream

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


FORWARD_PASSWORD = "MARKER-forward-password-2b8e"
QUERY_KEY = "MARKER-query-key-6d41"


async def test_urls_lose_their_credentials_in_logs_health_and_answers(tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)  # httpx logs every request's URL at INFO
    forward = f"http://shipper:{FORWARD_PASSWORD}@store:9200/_bulk?api-key={QUERY_KEY}&x=1"
    llm = f"http://127.0.0.1:{free_port()}/v1?api-key={QUERY_KEY}"  # nothing listens there
    settings = offline_settings(
        tmp_path, forward_url=forward, forward_retries=1, forward_retry_backoff_seconds=0,
        llm_base_url=llm, llm_max_retries=0, llm_breaker_failures=1,
    )  # fmt: skip
    downstream = Downstream([503, 503], default=200)
    app = sidecar_app(settings, transport=downstream.transport)
    batch = [{"program": "LegacyCRM", "message": "Case escalation for ticket 7 failed"}]
    async with app_client(app) as http:
        answers = [await http.post("/api/v1/ingest", json=batch) for _ in range(2)]
        health = await http.get("/api/v1/health")
    assert [a.status_code for a in answers] == [503, 200]  # target down, then up
    assert downstream.requests[0].headers["authorization"]  # the credentials were used
    assert str(downstream.requests[0].url).endswith(f"api-key={QUERY_KEY}&x=1")
    assert "forward to http://shipper:***@store:9200/_bulk?api-key=***&x=1 failed" in caplog.text
    assert "HTTP Request: POST http://shipper:***@store:9200/_bulk?api-key=***&x=1" in caplog.text
    assert health.json()["components"]["llm"]["base_url"].endswith("/v1?api-key=***")
    out, err = capfd.readouterr()
    seen = [caplog.text, out, err, health.text, *(a.text for a in answers)]
    for marker in (FORWARD_PASSWORD, QUERY_KEY):
        assert not [text[:200] for text in seen if marker in text], f"{marker} leaked"


def test_a_bad_forward_url_is_named_without_its_secrets():
    shown = re.escape("'ftp://u:***@h/?token=***' must be an http(s) URL")
    with pytest.raises(ValueError, match=shown) as exc:
        Forwarder(f"ftp://u:{FORWARD_PASSWORD}@h/?token={QUERY_KEY}", EventFields())
    assert FORWARD_PASSWORD not in str(exc.value) and QUERY_KEY not in str(exc.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:pw@h:8443/p?api-key=s&a=1", "https://u:***@h:8443/p?api-key=***&a=1"),
        ("https://h/p?apikey=s&api_key=s&key=s&token=s", "https://h/p?apikey=***&api_key=***&key=***&token=***"),
        ("https://h/p?sig=s&X-Amz-Signature=s&client_secret=s", "https://h/p?sig=***&X-Amz-Signature=***&client_secret=***"),
        ("https://h/p?api-version=2024-06-01&model=m", "https://h/p?api-version=2024-06-01&model=m"),
        ("https://h/cb#access_token=s&state=1", "https://h/cb#access_token=***&state=1"),
        ("http://u@[::1]:80/", "http://u@[::1]:80/"),
        ("http://u:pw@[::1/p?key=s", "http://***@[::1/p?***"),  # does not parse: kept safe
        ("stdout", "stdout"),
    ],
)  # fmt: skip
def test_redact_url_hides_passwords_and_secret_parameters(url, shown):
    assert redact_url(url) == shown


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
