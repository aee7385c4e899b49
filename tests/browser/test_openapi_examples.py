"""The docs' examples are real: they validate against the response models, and the parts a
fresh run reproduces exactly (regex verdicts, templates, CSV output, error bodies) match.

No browser and no model: the service here has the regex tier only, so the test is fast.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Body, FastAPI
from pydantic import BaseModel

from app import openapi_examples as ex
from app.api.routes.cache import ClearCacheResponse
from app.api.routes.performance import PerformanceStats, ResetResponse
from app.main import create_app
from app.schemas import ClassifyRequest, ClassifyResponse, ErrorResponse, HealthResponse
from app.settings import Settings
from monitoring import MetricsRegistry
from processors.pipeline import Classifier
from processors.taxonomy import Taxonomy
from tests.conftest import app_client


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _values(responses: dict[Any, dict[str, Any]], status: int) -> list[Any]:
    content = responses[status]["content"]
    return [entry["value"] for media in content.values() for entry in media["examples"].values()]


@pytest.mark.parametrize(
    ("model", "responses", "status"),
    [
        (ClassifyResponse, ex.CLASSIFY_RESPONSES, 200),
        (ErrorResponse, ex.CLASSIFY_RESPONSES, 413),
        (ErrorResponse, ex.CLASSIFY_RESPONSES, 422),
        (ErrorResponse, ex.CSV_RESPONSES, 400),
        (ErrorResponse, ex.CSV_RESPONSES, 422),
        (HealthResponse, ex.HEALTH_RESPONSES, 200),
        (PerformanceStats, ex.STATS_RESPONSES, 200),
        (ResetResponse, ex.RESET_RESPONSES, 200),
        (ClearCacheResponse, ex.CLEAR_CACHE_RESPONSES, 200),
        (ErrorResponse, ex.ADMIN_ERRORS, 401),
        (ErrorResponse, ex.ADMIN_ERRORS, 403),
    ],
)
def test_every_json_example_validates_against_its_response_model(
    model: type[BaseModel], responses: dict[Any, dict[str, Any]], status: int
):
    values = _values(responses, status)
    assert values
    for value in values:
        model.model_validate(value, strict=False)


def test_request_examples_validate_against_the_request_model():
    for entry in ex.CLASSIFY_REQUEST_EXAMPLES.values():
        ClassifyRequest.model_validate(entry["value"])


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(cache_dir=tmp_path / "cache", admin_token="test-admin-token")
    registry = MetricsRegistry()
    classifier = Classifier(Taxonomy.load(settings.taxonomy), registry=registry)  # regex only
    app = create_app(settings, registry=registry, classifier=classifier)
    async with app_client(app) as http:
        yield http


async def test_classify_example_matches_a_fresh_answer_where_it_is_deterministic(client):
    answer = (await client.post("/api/v1/classify", json=ex.CLASSIFY_REQUEST)).json()
    documented = ex.CLASSIFY_RESPONSE["results"]
    assert [r["template"] for r in answer["results"]] == [r["template"] for r in documented]
    for fresh, shown in zip(answer["results"], documented, strict=True):
        if shown["tier"] == "regex":
            assert fresh == shown


async def test_csv_example_is_exactly_what_the_upload_returns(client):
    files = {"file": ("logs.csv", ex.CSV_UPLOAD, "text/csv")}
    response = await client.post("/api/v1/classify/csv", files=files)
    assert response.status_code == 200
    assert response.text == ex.CSV_RESULT


async def test_error_examples_are_the_bodies_the_service_sends(client):
    missing = await client.post("/api/v1/classify", json={"logs": [{"source": "ModernCRM"}]})
    assert (missing.status_code, missing.json()) == (422, ex.ERROR_422)
    too_many = await client.post(
        "/api/v1/classify", json={"logs": [{"log_message": "x"}] * 10_001}
    )
    assert (too_many.status_code, too_many.json()) == (413, ex.ERROR_413_LINES)
    bad_csv = await client.post(
        "/api/v1/classify/csv", files={"file": ("a.csv", "source,message\na,b\n", "text/csv")}
    )
    assert (bad_csv.status_code, bad_csv.json()) == (400, ex.ERROR_400_CSV)
    no_file = await client.post("/api/v1/classify/csv")
    assert (no_file.status_code, no_file.json()) == (422, _values(ex.CSV_RESPONSES, 422)[0])
    wrong_token = await client.post(
        "/api/v1/performance/reset", headers={"Authorization": "Bearer wrong"}
    )
    assert (wrong_token.status_code, wrong_token.json()) == (401, ex.ADMIN_401)


def test_fastapi_puts_the_examples_into_the_schema_beside_the_response_model():
    app = FastAPI()

    @app.post("/classify", response_model=ClassifyResponse, responses=ex.CLASSIFY_RESPONSES)
    async def classify(
        body: Annotated[ClassifyRequest, Body(openapi_examples=ex.CLASSIFY_REQUEST_EXAMPLES)],
    ) -> ClassifyResponse:
        raise NotImplementedError

    operation = app.openapi()["paths"]["/classify"]["post"]
    request = operation["requestBody"]["content"]["application/json"]
    assert request["examples"]["mixed"]["value"] == ex.CLASSIFY_REQUEST
    ok = operation["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": "#/components/schemas/ClassifyResponse"}
    # FastAPI renders the schema with exclude_none, so example nulls are left out
    assert ok["examples"]["cached"]["value"] == _without_nulls(ex.CLASSIFY_RESPONSE)
    assert set(operation["responses"]) == {"200", "413", "422"}
    too_big = operation["responses"]["413"]["content"]["application/json"]
    assert too_big["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
    assert too_big["examples"]["lines"]["value"] == ex.ERROR_413_LINES
