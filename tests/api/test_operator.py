"""The operator's loop over HTTP: see the templates that flow, correct one, it sticks."""

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from processors.corrections import CorrectionStore
from processors.pipeline import Classifier
from processors.records import Outcome
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from processors.template_stats import TemplateStats
from tests.api.test_clear_cache import CountingTier
from tests.conftest import app_client

ADMIN = {"Authorization": "Bearer test-admin-token"}
TAXONOMY = Taxonomy.load(DEFAULT_TAXONOMY_PATH)


def build(settings: Settings, path=None) -> Classifier:
    store = CorrectionStore(path or settings.cache_dir / "corrections.yaml", TAXONOMY.label_names,
                            reload_seconds=0)
    return Classifier(TAXONOMY, {"bert": CountingTier()}, corrections=store)


@pytest.fixture
async def http(settings: Settings):
    async with app_client(create_app(settings, classifier=build(settings))) as client:
        yield client


async def classify(http: httpx.AsyncClient, *messages: str, source: str = "app") -> list[dict]:
    logs = [{"source": source, "log_message": m} for m in messages]
    response = await http.post("/api/v1/classify", json={"logs": logs})
    assert response.status_code == 200
    return response.json()["results"]


async def test_templates_lists_the_most_seen_with_label_tier_and_count(http):
    await classify(http, "job 1 failed", "job 2 failed", "job 3 failed", "User U1 logged in.")
    body = (await http.get("/api/v1/templates", params={"limit": 1})).json()
    assert body["tracked"] == 2 and body["capacity"] >= 2
    [row] = body["templates"]
    assert (row["template"], row["label"], row["tier"], row["count"]) == (
        "job <NUM> failed", "Error", "bert", 3
    )
    assert row["route"] == "default" and row["first_seen"] <= row["last_seen"]
    regex_only = (await http.get("/api/v1/templates", params={"tier": "regex"})).json()
    assert [r["label"] for r in regex_only["templates"]] == ["User Action"]


async def test_a_correction_applies_to_every_later_line_of_the_template(http):
    [before] = await classify(http, "disk 7 at 91%")
    assert before["tier"] == "bert"
    body = {"source": "app", "log_message": "disk 9 at 12%", "label": "Resource Usage"}
    response = await http.post("/api/v1/corrections", json=body, headers=ADMIN)
    assert response.status_code == 200
    assert response.json() == {
        "route": "default", "template": before["template"], "label": "Resource Usage"
    }
    after = await classify(http, "disk 3 at 50%", "disk 4 at 1%")
    assert {(r["label"], r["tier"], r["confidence"]) for r in after} == {
        ("Resource Usage", "override", 1.0)
    }
    [row] = (await http.get("/api/v1/templates")).json()["templates"]
    assert (row["label"], row["tier"]) == ("Resource Usage", "override")
    listed = (await http.get("/api/v1/corrections")).json()["corrections"]
    assert [(c["template"], c["label"]) for c in listed] == [(before["template"], "Resource Usage")]
    removed = await http.request("DELETE", "/api/v1/corrections", json=body, headers=ADMIN)
    assert removed.status_code == 200
    assert (await classify(http, "disk 5 at 2%"))[0]["tier"] == "bert"
    again = await http.request("DELETE", "/api/v1/corrections", json=body, headers=ADMIN)
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, {"log_message": "x 1", "label": "Error"}, 401),
        ({"Authorization": "Bearer wrong"}, {"log_message": "x 1", "label": "Error"}, 401),
        (ADMIN, {"log_message": "x 1", "label": "Bogus"}, 422),
        (ADMIN, {"log_message": "   ", "label": "Error"}, 422),
        (ADMIN, {"label": "Error"}, 422),
    ],
)
async def test_bad_corrections_are_refused_and_change_nothing(http, headers, body, status):
    response = await http.post("/api/v1/corrections", json=body, headers=headers)
    assert response.status_code == status, response.text
    assert (await http.get("/api/v1/corrections")).json() == {"corrections": []}


async def test_corrections_survive_a_restart(settings: Settings):
    body = {"source": "app", "log_message": "queue 5 is full", "label": "Resource Usage"}
    async with app_client(create_app(settings, classifier=build(settings))) as http:
        assert (await http.post("/api/v1/corrections", json=body, headers=ADMIN)).status_code == 200
    async with app_client(create_app(settings, classifier=build(settings))) as http:
        [verdict] = await classify(http, "queue 6 is full")
    assert (verdict["label"], verdict["tier"]) == ("Resource Usage", "override")


async def test_an_unwritable_corrections_file_answers_503_not_500(settings: Settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    classifier = build(settings, path=blocker / "corrections.yaml")  # parent is a file
    body = {"log_message": "x 1", "label": "Error"}
    async with app_client(create_app(settings, classifier=classifier)) as http:
        response = await http.post("/api/v1/corrections", json=body, headers=ADMIN)
    assert response.status_code == 503
    assert "cannot be updated" in response.json()["detail"]


async def test_templates_stay_bounded_after_a_hundred_thousand_distinct_templates(settings):
    classifier = build(settings)
    classifier.template_stats = stats = TemplateStats(1_000)
    outcome = Outcome("Error", 0.5, "bert", None)
    for start in range(0, 100_000, 1_000):
        batch = range(start, start + 1_000)
        stats.record([(("default", f"t{n}"), 1 + n % 7, outcome) for n in batch])
    async with app_client(create_app(settings, classifier=classifier)) as http:
        response = await http.get("/api/v1/templates", params={"limit": 1000})
    body = response.json()
    assert response.status_code == 200
    assert len(body["templates"]) == body["tracked"] <= body["capacity"] == 1_000
    counts = [row["count"] for row in body["templates"]]
    assert counts == sorted(counts, reverse=True)
