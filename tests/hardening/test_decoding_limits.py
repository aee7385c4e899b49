"""Hostile shipper bodies: no input gives a 500."""

from __future__ import annotations

import json

import pytest

from app.main import create_app
from tests.hardening.conftest import offline_settings, running


def _ingest(tmp_path, body, content_type="application/json", **overrides):
    app = create_app(offline_settings(tmp_path, **overrides))
    with running(app) as client:
        return client.request(
            "POST", "/api/v1/ingest", content=body, headers={"Content-Type": content_type}
        )


def test_json_array_nested_deeper_than_the_decoder_allows_is_400_not_500(tmp_path):
    response = _ingest(tmp_path, b"[" * 100_000)
    assert response.status_code == 400, response.text
    assert "nested too deeply" in response.json()["detail"]


def test_ndjson_line_nested_too_deeply_is_carried_on_as_a_malformed_event(tmp_path):
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    body = f'{{"message": "before"}}\n{deep}\n{{"message": "after"}}\n'.encode()
    response = _ingest(tmp_path, body, "application/x-ndjson")
    assert response.status_code == 200, response.text
    events = [json.loads(line) for line in response.text.splitlines()]
    assert [e["message"] for e in events] == ["before", deep, "after"]
    assert events[1]["log_class"]["reason"] == "malformed_event"


def test_deeply_nested_json_array_names_the_limit(tmp_path):
    response = _ingest(tmp_path, b'[{"a":' + b"[" * 50_000 + b"]" * 50_000 + b"}]")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize(
    "record",
    [
        b'{"severityNumber": 1e400}',
        b'{"severityNumber": -1e400}',
        b'{"timeUnixNano": 1e400}',
        b'{"observedTimeUnixNano": Infinity}',
        b'{"droppedAttributesCount": 1e400}',
        b'{"body": {"intValue": 1e400}}',
    ],
    ids=["severity", "negative", "time", "observed-inf", "dropped", "body-int"],
)
def test_otlp_json_numbers_out_of_range_are_400_with_a_message(tmp_path, record):
    body = b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[' + record + b"]}]}]}"
    app = create_app(offline_settings(tmp_path))
    with running(app) as client:
        response = client.request(
            "POST", "/v1/logs", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400, response.text
    assert "OTLP/JSON" in response.json()["detail"]


def test_otlp_json_nested_too_deeply_is_400(tmp_path):
    deep = b'{"kvlistValue":{"values":[{"key":"k","value":' * 3000
    body = b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":' + deep + b"1"
    app = create_app(offline_settings(tmp_path))
    with running(app) as client:
        for payload in (body, b"[" * 100_000):
            response = client.request(
                "POST", "/v1/logs", content=payload, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 400, response.text
            assert "nested too deeply" in response.json()["detail"]
