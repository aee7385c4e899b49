"""/docs, /redoc and / in a real browser: every operation shown, nothing fetched off-host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from tests.browser.conftest import LiveServer, serve

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("docs")
    (tmp / "no-model").mkdir()
    # no embedding model to load (seconds) and no LLM: regex verdicts answer "Try it out"
    settings = Settings(cache_dir=tmp / "cache", bert_model_path=tmp / "no-model")
    yield from serve(create_app(settings))


def _operations(base_url: str) -> set[tuple[str, str]]:
    schema = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def _summaries(base_url: str) -> set[str]:
    schema = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
    return {
        operation["summary"]
        for item in schema["paths"].values()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def test_swagger_ui_renders_every_operation_without_leaving_the_host(server, open_page):
    page, requests = open_page(f"{server.base_url}/docs")
    page.wait_for_selector(".opblock", timeout=15_000)
    shown = {
        (
            block.locator(".opblock-summary-method").inner_text().strip(),
            block.locator(".opblock-summary-path").get_attribute("data-path"),
        )
        for block in page.locator(".opblock-summary").all()
    }
    assert shown == _operations(server.base_url)
    assert requests.sent_off_host(server.base_url) == []
    assert requests.blocked_by_csp == [] and requests.console_errors == []
    assert any(url.endswith("/static-offline-docs/swagger-ui-bundle.js") for url in requests.urls)


def test_try_it_out_classifies_the_example_batch(server, open_page):
    page, requests = open_page(f"{server.base_url}/docs#/classify/classify_api_v1_classify_post")
    block = page.locator("#operations-classify-classify_api_v1_classify_post")
    block.wait_for(timeout=15_000)
    if not block.locator(".try-out__btn").is_visible():
        block.locator(".opblock-summary").click()
    block.locator(".try-out__btn").click()
    block.locator("button.execute").click()
    status = block.locator(".live-responses-table .response .response-col_status").first
    status.wait_for(timeout=15_000)
    assert status.inner_text().strip() == "200"
    body = block.locator(".live-responses-table .response-col_description pre").first.inner_text()
    assert '"results"' in body and '"User Action"' in body
    assert requests.sent_off_host(server.base_url) == []
    assert requests.blocked_by_csp == [] and requests.console_errors == []


def test_redoc_renders_the_api_without_leaving_the_host(server, open_page):
    page, requests = open_page(f"{server.base_url}/redoc")
    page.locator("h2", has_text="Classify a batch of log lines").wait_for(timeout=20_000)
    headings = {text.strip() for text in page.locator("h2").all_inner_texts()}
    assert _summaries(server.base_url) <= headings
    assert requests.sent_off_host(server.base_url) == []
    # the bundle's one remote asset, its footer logo, is stopped by the page's CSP
    assert all(url.startswith("https://cdn.redoc.ly/") for url in requests.blocked_by_csp)
    assert any(url.endswith("/static-offline-docs/redoc.standalone.js") for url in requests.urls)


def test_landing_page_links_docs_redoc_dashboard_and_metrics(server, open_page):
    page, requests = open_page(f"{server.base_url}/")
    for link_id, path in [
        ("link-docs", "/docs"), ("link-redoc", "/redoc"), ("link-dashboard", "/dashboard"),
        ("link-metrics", "/metrics"), ("link-health", "/api/v1/health"),
    ]:
        href = page.locator(f"#{link_id}").get_attribute("href")
        assert href == path
        assert httpx.get(server.base_url + href, timeout=10).status_code == 200, path
    assert requests.sent_off_host(server.base_url) == []


def test_docs_assets_come_from_the_installed_package(server):
    from app.docs import ASSETS_DIR

    response = httpx.get(f"{server.base_url}/static-offline-docs/swagger-ui-bundle.js", timeout=10)
    assert response.status_code == 200
    assert response.content == (Path(ASSETS_DIR) / "swagger-ui-bundle.js").read_bytes()
