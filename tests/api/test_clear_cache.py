"""POST /api/v1/performance/clear-cache: admin only, empties both levels, says what each held."""

from collections.abc import Sequence
from contextlib import asynccontextmanager

import pytest

from app.main import create_app
from app.settings import Settings
from processors.cache import TemplateCache
from processors.pipeline import Classifier
from processors.records import Decision, LogRecord
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from tests.conftest import app_client

URL = "/api/v1/performance/clear-cache"
TOKEN = {"Authorization": "Bearer test-admin-token"}


class CountingTier:
    name = "bert"
    fingerprint = "bert-test"

    def __init__(self) -> None:
        self.asked = 0

    async def decide(self, templates: Sequence[str]) -> list[Decision]:
        self.asked += len(templates)
        return [Decision("Error", 0.7) for _ in templates]

    def health(self):
        return {"status": "ok"}

    async def aclose(self) -> None:
        pass


@pytest.fixture
def tier() -> CountingTier:
    return CountingTier()


@pytest.fixture
def classifier(settings: Settings, tier: CountingTier) -> Classifier:
    cache = TemplateCache.from_settings(settings)
    return Classifier(Taxonomy.load(DEFAULT_TAXONOMY_PATH), {"bert": tier}, cache=cache)


@asynccontextmanager
async def served(settings: Settings, classifier: Classifier):
    """The real app, with the test's classifier (and so its cache) in place."""
    async with app_client(create_app(settings, classifier=classifier)) as client:
        yield client


@pytest.fixture
async def http(settings: Settings, classifier: Classifier):
    async with served(settings, classifier) as client:
        yield client
    classifier.cache.close()


async def warm(classifier: Classifier) -> None:
    lines = ["worker 3 lost connection", "job 9 failed after 3 retries", "User U1 logged in."]
    await classifier.classify([LogRecord("app", line) for line in lines])


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzdA=="}]
)
async def test_clear_cache_without_the_admin_token_is_refused_and_clears_nothing(
    http, classifier, headers
):
    await warm(classifier)
    response = await http.post(URL, headers=headers)
    assert response.status_code == 401
    assert classifier.cache.stats()["l1"]["size"] == 2


async def test_clear_cache_is_refused_when_no_admin_token_is_configured(tmp_path, classifier):
    settings = Settings(cache_dir=tmp_path / "other", admin_token=None)
    async with served(settings, classifier) as client:
        response = await client.post(URL, headers=TOKEN)
    assert response.status_code == 403
    assert "LOGCLASS_ADMIN_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize("url", [URL, URL + "/"])
async def test_clear_cache_empties_both_levels_and_reports_what_each_held(
    http, classifier, tier, settings, url
):
    await warm(classifier)
    response = await http.post(url, headers=TOKEN)
    assert response.status_code == 200
    assert response.json() == {"enabled": True, "cleared": {"l1": 2, "l2": 2}}
    assert TemplateCache(settings.cache_dir).stats()["l2"]["size"] == 0
    asked = tier.asked
    await warm(classifier)  # the model is asked again
    assert tier.asked == asked + 2
    again = await http.post(url, headers=TOKEN)
    assert again.json()["cleared"] == {"l1": 2, "l2": 2}


async def test_clear_cache_with_caching_off_says_so(tmp_path, tier):
    settings = Settings(cache_dir=tmp_path, cache_enabled=False, admin_token="test-admin-token")
    classifier = Classifier(Taxonomy.load(DEFAULT_TAXONOMY_PATH), {"bert": tier}, cache=None)
    async with served(settings, classifier) as client:
        response = await client.post(URL, headers=TOKEN)
    assert response.status_code == 200
    assert response.json() == {"enabled": False, "cleared": {"l1": 0, "l2": 0}}
