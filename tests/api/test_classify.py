"""The classify endpoints as a client sees them: JSON batch, CSV upload, limits, errors."""

import csv
import io

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from tests.conftest import app_client

LINES = [
    {"source": "ModernCRM", "log_message": "User User123 logged in."},
    {"source": "ModernCRM", "log_message": ""},
    {"source": "LegacyCRM", "log_message": "Backup completed successfully."},
    {"source": "ModernCRM", "log_message": "User User123 logged in."},
]


async def test_classify_returns_one_result_per_line_in_order(client: httpx.AsyncClient):
    response = await client.post("/api/v1/classify", json={"logs": LINES})
    assert response.status_code == 200
    body = response.json()
    labels = [r["label"] for r in body["results"]]
    assert labels == ["User Action", "Unclassified", "System Notification", "User Action"]
    assert body["summary"]["total"] == 4
    assert body["summary"]["by_tier"]["regex"] == 3
    assert all(
        set(r) >= {"label", "confidence", "tier", "cached", "template"} for r in body["results"]
    )


async def test_trailing_slash_variant_is_served_without_redirect(client: httpx.AsyncClient):
    response = await client.post("/api/v1/classify/", json={"logs": LINES[:1]})
    assert response.status_code == 200
    assert response.json()["results"][0]["label"] == "User Action"


@pytest.mark.parametrize(
    ("body", "where"),
    [({"lugs": []}, "body.logs"), ({"logs": [{"source": "a"}]}, "body.logs.0.log_message")],
)
async def test_schema_errors_are_422_naming_the_field(client: httpx.AsyncClient, body, where):
    response = await client.post("/api/v1/classify", json=body)
    assert response.status_code == 422
    assert response.json()["message"].startswith(where)


async def test_invalid_json_is_a_4xx_not_a_500(client: httpx.AsyncClient):
    response = await client.post(
        "/api/v1/classify", content=b'{"logs": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


@pytest.fixture
async def small_limits_client(tmp_path):
    settings = Settings(
        cache_dir=tmp_path,
        max_lines=3,
        max_body_bytes=2048,
        max_line_chars=50,
    )
    async with app_client(create_app(settings)) as http:
        yield http


async def test_too_many_lines_is_413_with_the_limit(small_limits_client: httpx.AsyncClient):
    logs = [{"source": "a", "log_message": "x"}] * 4
    response = await small_limits_client.post("/api/v1/classify", json={"logs": logs})
    assert response.status_code == 413
    assert "at most 3" in response.json()["detail"]


async def test_body_over_the_byte_limit_is_413(small_limits_client: httpx.AsyncClient):
    logs = [{"source": "a", "log_message": "y" * 3000}]
    response = await small_limits_client.post("/api/v1/classify", json={"logs": logs})
    assert response.status_code == 413
    assert "Too Large" in response.text


async def test_chunked_body_over_the_limit_is_413(small_limits_client: httpx.AsyncClient):
    async def chunks():
        yield b'{"logs": [{"source": "a", "log_message": "'
        for _ in range(10):
            yield b"z" * 500
        yield b'"}]}'

    response = await small_limits_client.post(
        "/api/v1/classify", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_over_long_line_is_truncated_and_flagged(small_limits_client: httpx.AsyncClient):
    logs = [{"source": "a", "log_message": "word " * 60}]
    response = await small_limits_client.post("/api/v1/classify", json={"logs": logs})
    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["reason"] in {"truncated", "llm_unavailable", "llm_disabled", "low_confidence"}
    assert len(result["template"]) <= 50


def _upload(text: str | bytes) -> dict:
    data = text.encode() if isinstance(text, str) else text
    return {"file": ("logs.csv", data, "text/csv")}


async def test_csv_round_trip_keeps_columns_and_neutralises_formulas(client: httpx.AsyncClient):
    text = (
        "\ufeffsource,log_message,ticket\n"
        'ModernCRM,"User User9 logged out.",=HYPERLINK("http://evil")\n'
        'LegacyCRM,"line with, comma\nand newline",+1\n'
        "App,-2+3,@SUM(A1)\n"
        "App,Disk cleanup completed successfully.,é✓\n"
    )
    response = await client.post("/api/v1/classify/csv", files=_upload(text))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "source",
        "log_message",
        "ticket",
        "target_label",
        "confidence",
        "tier",
    ]
    assert [r["ticket"] for r in rows] == ['\'=HYPERLINK("http://evil")', "'+1", "'@SUM(A1)", "é✓"]
    assert rows[1]["log_message"] == "line with, comma\nand newline"
    assert rows[2]["log_message"] == "'-2+3"
    labels = [r["target_label"] for r in rows]
    assert labels[0] == "User Action" and labels[3] == "System Notification"  # regex rules
    assert labels[1] == "Unclassified"  # LegacyCRM routes to the LLM, which is off here
    assert rows[0]["tier"] == "regex" and rows[0]["confidence"] == "1.0000"


async def test_reference_server_path_takes_the_same_upload(client: httpx.AsyncClient):
    response = await client.post("/classify/", files=_upload("source,log_message\na,b\n"))
    assert response.status_code == 200
    assert "target_label" in response.text.splitlines()[0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"source,message\na,b\n", "no 'log_message' column"),
        (b"source,log_message\na,b,c\n", "row 2 has 3 fields"),
        (b"source,log_message\n\xff\xfe,x\n", "not valid UTF-8"),
        (b'source,log_message\na,"unterminated\n', "malformed CSV"),
    ],
)
async def test_malformed_csv_is_400_saying_what_is_wrong(client: httpx.AsyncClient, data, message):
    response = await client.post("/api/v1/classify/csv", files=_upload(data))
    assert response.status_code == 400
    assert message in response.json()["detail"]


async def test_csv_without_file_field_is_422(client: httpx.AsyncClient):
    response = await client.post("/api/v1/classify/csv", data={"other": "x"})
    assert response.status_code == 422


async def test_health_lists_components(client: httpx.AsyncClient):
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] in {"ok", "degraded"}
    assert body["components"]["regex"]["rules"] >= 8
