"""/dashboard in a real browser, against a service whose LLM server is down.

The BERT model folder is empty and the LLM base URL points at a closed port, so lines the
regex rules miss fall through both model tiers: the test sees charts fill with that traffic
and the LLM component turn ``degraded`` as its circuit breaker opens.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from tests.browser.conftest import LiveServer, serve

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
REGEX_LINES = [
    "User User123 logged in.", "Backup completed successfully.", "User User7 logged out."
]
MODEL_LINES = ["Disk quota exceeded for volume 42", "Payment gateway timeout after 3000 ms"]
WAIT_MS = 15_000


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("dashboard")
    (tmp / "empty-model").mkdir()
    settings = Settings(
        cache_dir=tmp / "cache",
        bert_model_path=tmp / "empty-model",
        llm_base_url=f"http://127.0.0.1:{_closed_port()}/v1",
        llm_max_retries=0,
        llm_breaker_failures=1,
        llm_breaker_cooldown_seconds=600,
        slow_threshold_ms=0.05,  # so the slow list has entries to show
    )
    # the classifier is the one the settings describe, as `logclass serve` builds it
    yield from serve(create_app(settings))


def _classify(base_url: str, lines: list[str], source: str = "ModernCRM") -> dict:
    logs = [{"source": source, "log_message": line} for line in lines]
    response = httpx.post(f"{base_url}/api/v1/classify", json={"logs": logs}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _send_traffic(base_url: str, seconds: float) -> int:
    """Batches of regex-decided lines for ``seconds``, so several polls see them arrive."""
    sent, stop = 0, time.monotonic() + seconds
    while time.monotonic() < stop:
        sent += len(_classify(base_url, REGEX_LINES * 20)["results"])
        time.sleep(0.05)
    return sent


def test_dashboard_charts_fill_with_traffic_and_show_the_llm_breaker_opening(server, open_page):
    page, requests = open_page(f"{server.base_url}/dashboard?refresh=0.25")
    llm = page.locator("#components li[data-component=llm]")
    llm.wait_for(timeout=WAIT_MS)
    assert llm.get_attribute("data-status") == "ok"  # nothing has called the dead server yet
    assert "breaker closed" in llm.inner_text()

    _classify(server.base_url, MODEL_LINES)  # bert cannot load, the llm call is refused
    sent = _send_traffic(server.base_url, seconds=2.0)

    page.wait_for_function(
        "() => { const c = document.getElementById('lines-chart');"
        " return c.dataset.empty === 'false' && Number(c.dataset.max) > 0; }",
        timeout=WAIT_MS,
    )
    page.locator("#components li[data-component=llm][data-status=degraded]").wait_for(
        timeout=WAIT_MS
    )
    assert "breaker open" in llm.inner_text()
    assert page.locator("#components li[data-component=bert]").get_attribute("data-status") == (
        "degraded"
    )
    assert page.locator("#overall").inner_text() == "degraded"

    assert page.locator("#lines-chart path.line").count() == 1
    assert page.locator("#tier-chart").get_attribute("data-empty") == "false"
    assert page.locator("#tier-chart rect[data-part=regex]").count() == 1
    assert page.locator("#tier-chart rect[data-part=none]").count() == 1  # the model lines
    page.wait_for_function(  # every regex line sent is counted, none twice
        "(sent) => { const li = document.querySelector('#tier-legend li[data-tier=regex]');"
        " return li && Number(li.textContent.match(/regex: (\\d+)/)[1]) === sent; }",
        arg=sent,
        timeout=WAIT_MS,
    )
    assert page.locator("#cache-chart rect[data-level=l1]").count() == 1
    assert page.locator("#cache-chart rect[data-level=l2]").count() == 1
    route = page.locator("#latency-table tbody tr[data-route='/api/v1/classify']")
    assert route.count() == 1 and "POST /api/v1/classify" in route.inner_text()
    assert route.locator("svg.range rect").count() == 1
    assert page.locator("#slow-table tbody tr").count() >= 1

    assert requests.sent_off_host(server.base_url) == []
    assert requests.blocked_by_csp == [] and requests.console_errors == []
    page.locator("#try-submit").click()  # the page's own sample lines
    page.locator("#try-results tbody tr").nth(2).wait_for(timeout=WAIT_MS)


def test_try_it_shows_each_line_as_the_api_classifies_it(server, open_page):
    probe = '<img src=x onerror="window.__injected = 1">'
    lines = [*REGEX_LINES[:2], MODEL_LINES[0], probe]
    page, requests = open_page(f"{server.base_url}/dashboard?refresh=5")
    page.locator("#try-source").fill("ModernCRM")
    page.locator("#try-lines").fill("\n".join(lines) + "\n\n")
    page.locator("#try-submit").click()
    rows = page.locator("#try-results tbody tr")
    rows.nth(len(lines) - 1).wait_for(timeout=WAIT_MS)

    expected = _classify(server.base_url, lines)["results"]
    assert rows.count() == len(lines)  # blank lines are not sent
    for i, (line, verdict) in enumerate(zip(lines, expected, strict=True)):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert cells[0] == line
        assert cells[1:3] == [verdict["label"], verdict["tier"]]
        confidence = verdict["confidence"]
        assert cells[3] == ("–" if confidence is None else f"{confidence:.3f}")
        assert cells[4] == verdict["template"]
    assert page.locator("#try-results img").count() == 0  # the probe stayed text
    assert page.evaluate("() => window.__injected") is None
    assert requests.sent_off_host(server.base_url) == []


def test_try_it_reports_a_refused_batch_with_the_service_message(server, open_page):
    page, _ = open_page(f"{server.base_url}/dashboard?refresh=5")
    page.locator("#try-source").fill("S" * 300)  # over the 256-character limit: a 422
    page.locator("#try-submit").click()
    status = page.locator("#try-status")
    page.wait_for_function(
        "() => document.getElementById('try-status').textContent.startsWith('refused')",
        timeout=WAIT_MS,
    )
    assert "source" in status.inner_text()
