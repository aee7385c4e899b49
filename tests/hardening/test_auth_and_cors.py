"""Who may call what: the optional API token on everything that classifies, the admin token
on admin endpoints (both compared in constant time), CORS off unless origins are set."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from app.main import create_app
from app.settings import Settings
from tests.conftest import app_client
from tests.hardening.conftest import offline_settings

TOKEN = "api-token-for-tests"
ONE_LINE = {"logs": [{"source": "App", "log_message": "User alice logged in."}]}
OTLP_JSON = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "x"}}]}]}]}
# Every route that classifies, as a client calls it.
CLASSIFYING: list[tuple[str, dict[str, Any]]] = [
    ("/api/v1/classify", {"json": ONE_LINE}),
    ("/api/v1/classify/csv", {"files": {"file": ("a.csv", b"log_message\nhello\n")}}),
    ("/classify/", {"files": {"file": ("a.csv", b"log_message\nhello\n")}}),
    ("/api/v1/ingest", {"json": [{"message": "hello"}]}),
    ("/v1/logs", {"json": OTLP_JSON}),
]


async def open_client(tmp_path, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    # a forward target, or /v1/logs refuses records it could not deliver (503)
    app = create_app(offline_settings(tmp_path, **{"forward_url": "stdout", **settings}))
    async with app_client(app) as http:
        yield http


@pytest.fixture
async def open_service(tmp_path):
    async for http in open_client(tmp_path):
        yield http


@pytest.fixture
async def guarded(tmp_path):
    async for http in open_client(tmp_path, api_token=TOKEN):
        yield http


@pytest.mark.parametrize(("path", "body"), CLASSIFYING)
async def test_without_an_api_token_set_classifying_is_open(open_service, path, body):
    assert (await open_service.post(path, **body)).status_code == 200


@pytest.mark.parametrize(("path", "body"), CLASSIFYING)
async def test_with_an_api_token_set_classifying_needs_it(guarded, path, body):
    missing = await guarded.post(path, **body)
    wrong = await guarded.post(path, headers={"Authorization": "Bearer nope"}, **body)
    right = await guarded.post(path, headers={"Authorization": f"Bearer {TOKEN}"}, **body)
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "API token" in wrong.json()["detail"] and TOKEN not in wrong.text
    assert right.status_code == 200


async def test_the_api_token_does_not_guard_reads_or_open_admin(guarded):
    for path in ("/api/v1/health", "/metrics", "/api/v1/performance/stats", "/docs"):
        assert (await guarded.get(path)).status_code == 200
    admin = {"Authorization": f"Bearer {TOKEN}"}  # the API token is not an admin token
    assert (await guarded.post("/api/v1/performance/clear-cache", headers=admin)).status_code == 401


async def test_openapi_says_a_bearer_is_needed_exactly_when_one_is(open_service, guarded):
    open_ops = (await open_service.get("/openapi.json")).json()["paths"]
    guarded_ops = (await guarded.get("/openapi.json")).json()["paths"]
    for path, _ in CLASSIFYING:
        assert "security" not in open_ops[path]["post"]
        assert guarded_ops[path]["post"]["security"] == [{"ApiToken": []}]
        assert "401" in guarded_ops[path]["post"]["responses"]


async def test_tokens_are_compared_in_constant_time(guarded, monkeypatch):
    compared: list[tuple[bytes, bytes]] = []
    real = secrets.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("app.api.deps.secrets.compare_digest", spy)
    await guarded.post("/api/v1/classify", json=ONE_LINE, headers={"Authorization": "Bearer x"})
    await guarded.post("/api/v1/performance/clear-cache", headers={"Authorization": "Bearer y"})
    assert compared == [(b"x", TOKEN.encode()), (b"y", b"test-admin-token")]


async def test_swagger_ui_keeps_no_token_in_browser_storage(guarded):
    page = (await guarded.get("/docs")).text
    assert '"persistAuthorization": false' in page  # "Authorize" lives in the page only
    assert "persistAuthorization\": true" not in page


async def test_cors_is_off_unless_origins_are_configured(open_service):
    origin = {"Origin": "https://ui.example"}
    response = await open_service.post("/api/v1/classify", json=ONE_LINE, headers=origin)
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = await open_service.options(
        "/api/v1/classify", headers={**origin, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_configured_origins_and_only_they_get_cors_headers(tmp_path):
    async for http in open_client(tmp_path, cors_origins="https://ui.example, https://b.example"):
        allowed = await http.post(
            "/api/v1/classify", json=ONE_LINE, headers={"Origin": "https://b.example"}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://b.example"
        other = await http.post(
            "/api/v1/classify", json=ONE_LINE, headers={"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
        preflight = await http.options(
            "/api/v1/classify",
            headers={"Origin": "https://ui.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 200
        assert "POST" in preflight.headers["access-control-allow-methods"]


@pytest.mark.parametrize("name", ["LOGCLASS_ADMIN_TOKEN", "LOGCLASS_API_TOKEN"])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_token_is_refused_at_start_up(monkeypatch, name, value):
    # `LOGCLASS_ADMIN_TOKEN: ${ADMIN_TOKEN}` in a compose file with ADMIN_TOKEN unset gives
    # an empty token, and an empty bearer would match a request that sends none
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=f"{name} is set but empty"):
        Settings()


def test_logclass_serve_with_an_empty_token_stops_with_the_reason(tmp_path):
    env = {**os.environ, "LOGCLASS_ADMIN_TOKEN": "", "LOGCLASS_CACHE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--port", "0"],
        env=env, capture_output=True, text=True, timeout=30,
    )
    assert done.returncode != 0
    assert "LOGCLASS_ADMIN_TOKEN is set but empty" in done.stderr
