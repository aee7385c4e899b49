"""The dashboard's Templates panel in a real browser: the operator's loop, end to end.

The service runs without a BERT model folder and without an LLM server, so lines the regex
rules miss end ``Unclassified`` (tier ``none``): exactly the templates an operator would
look for. A correction made in the page, with the admin token typed into it, must decide
the next classify answer for that template, and the token must be left in no web storage.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from tests.browser.conftest import LiveServer, serve

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
ADMIN_TOKEN = "panel-test-admin-token-7f3a9c"
SOURCE = "ModernCRM"
DISK = "Disk quota exceeded for volume <NUM>"
WAIT_MS = 15_000


def _settings(tmp: Any, **overrides: Any) -> Settings:
    (tmp / "empty-model").mkdir(exist_ok=True)
    return Settings(
        cache_dir=tmp / "cache",
        corrections_path=tmp / "corrections.yaml",
        bert_model_path=tmp / "empty-model",
        **overrides,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("templates")
    yield from serve(create_app(_settings(tmp, admin_token=ADMIN_TOKEN)))


@pytest.fixture(scope="module")
def server_without_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from serve(create_app(_settings(tmp_path_factory.mktemp("no-admin"))))


def _classify(base_url: str, lines: list[str]) -> list[dict]:
    logs = [{"source": SOURCE, "log_message": line} for line in lines]
    response = httpx.post(f"{base_url}/api/v1/classify", json={"logs": logs}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["results"]


def _traffic(base_url: str) -> None:
    """Three templates seen 4, 2 and 3 times: one the rules decide, two nobody can."""
    _classify(base_url, [f"Disk quota exceeded for volume {n}" for n in (7, 42, 9, 13)])
    _classify(base_url, ["User User123 logged in.", "User User7 logged in."])
    _classify(base_url, [f"Payment gateway timeout after {ms} ms" for ms in (300, 3000, 30)])


def _row(page: Any, template: str) -> Any:
    return page.locator(f"#templates-table tbody tr[data-template='{template}']")


def _open_panel(open_page: Any, server: LiveServer) -> Any:
    page, requests = open_page(f"{server.base_url}/dashboard?refresh=0.5")
    _row(page, DISK).wait_for(timeout=WAIT_MS)
    return page, requests


def _click(page: Any, button: Any, state: str) -> str:
    """Click ``button`` and return the panel's message once it is in ``state``."""
    status = page.locator("#templates-status")
    status.evaluate("s => { s.textContent = ''; s.dataset.state = ''; }")
    button.click()
    page.locator(f"#templates-status[data-state='{state}']").wait_for(timeout=WAIT_MS)
    return status.inner_text()


def test_panel_lists_the_templates_seen_most_as_the_api_does(server, open_page):
    _traffic(server.base_url)
    page, requests = _open_panel(open_page, server)

    listed = httpx.get(f"{server.base_url}/api/v1/templates", params={"limit": 50}).json()
    rows = page.locator("#templates-table tbody tr")
    assert rows.count() == len(listed["templates"]) >= 3
    for i, template in enumerate(listed["templates"]):
        cells = rows.nth(i).locator("td").all_inner_texts()
        confidence = template["confidence"]
        assert cells[:6] == [
            template["route"], template["template"], template["label"], template["tier"],
            "–" if confidence is None else f"{confidence:.3f}", str(template["count"]),
        ]
    counts = [t["count"] for t in listed["templates"]]
    assert counts == sorted(counts, reverse=True)  # most seen first
    disk = _row(page, DISK).locator("td").all_inner_texts()
    assert disk[1:4] == [DISK, "Unclassified", "none"]
    assert "tracked of" in page.locator("#templates-tracked").inner_text()
    assert requests.sent_off_host(server.base_url) == [] and requests.console_errors == []


def test_filters_narrow_the_list_to_unclassified_or_low_confidence(server, open_page):
    _traffic(server.base_url)
    page, _ = _open_panel(open_page, server)
    regex_row = page.locator("#templates-table tbody tr[data-tier=regex]")
    assert regex_row.count() >= 1

    for show in ("unclassified", "low"):
        page.locator("#templates-show").select_option(show)
        regex_row.wait_for(state="detached", timeout=WAIT_MS)
        labels = page.locator("#templates-table tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.label)"
        )
        assert labels and set(labels) == {"Unclassified"}
        page.locator("#templates-show").select_option("all")
        regex_row.first.wait_for(timeout=WAIT_MS)


def test_a_correction_made_in_the_page_decides_the_next_classify_answer(server, open_page):
    _traffic(server.base_url)
    page, requests = _open_panel(open_page, server)
    page.locator("#admin-token").fill(ADMIN_TOKEN)
    _row(page, DISK).locator("select").select_option("Resource Usage")
    correct = _row(page, DISK).locator("button[data-action=correct]")
    assert "Resource Usage" in _click(page, correct, "ok")

    verdict = _classify(server.base_url, ["Disk quota exceeded for volume 99"])[0]
    assert (verdict["label"], verdict["tier"], verdict["confidence"]) == (
        "Resource Usage", "override", 1.0
    )
    corrected = page.locator(f"#templates-table tr[data-template='{DISK}'][data-tier=override]")
    corrected.wait_for(timeout=WAIT_MS)  # the panel shows it once a line has been decided so
    assert corrected.get_attribute("data-label") == "Resource Usage"

    storage = page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage),"
        " document.cookie])"
    )
    assert ADMIN_TOKEN not in storage
    assert ADMIN_TOKEN not in json.dumps(page.context.storage_state())
    assert requests.sent_off_host(server.base_url) == [] and requests.console_errors == []

    undo = _row(page, DISK).locator("button[data-action=undo]")  # and back again
    assert "correction removed" in _click(page, undo, "ok")
    assert _classify(server.base_url, ["Disk quota exceeded for volume 5"])[0]["tier"] == "none"


def test_refused_corrections_say_why_and_change_nothing(server, server_without_admin, open_page):
    _traffic(server.base_url)
    page, _ = _open_panel(open_page, server)
    correct = _row(page, DISK).locator("button[data-action=correct]")
    _row(page, DISK).locator("select").select_option("Error")

    assert "admin token" in _click(page, correct, "error")  # none typed: nothing is sent

    page.locator("#admin-token").fill("not-the-token")
    assert "(401)" in _click(page, correct, "error")

    page.locator("#admin-token").fill(ADMIN_TOKEN)
    _row(page, DISK).locator("select").evaluate(  # a label the taxonomy does not have
        "s => { s.append(new Option('Cosmic Rays', 'Cosmic Rays')); s.value = 'Cosmic Rays'; }"
    )
    assert "(422)" in _click(page, correct, "error")
    corrections = httpx.get(f"{server.base_url}/api/v1/corrections").json()["corrections"]
    assert corrections == []

    _traffic(server_without_admin.base_url)
    page, _ = _open_panel(open_page, server_without_admin)
    page.locator("#admin-token").fill(ADMIN_TOKEN)
    _row(page, DISK).locator("select").select_option("Error")
    correct = _row(page, DISK).locator("button[data-action=correct]")
    assert "disabled" in _click(page, correct, "error")
