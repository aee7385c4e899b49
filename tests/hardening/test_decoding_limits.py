"""Hostile shipper bodies: the event limit holds while decoding, and no input gives a 500.

A 16 MiB body of empty events (``[{},{},…]``, ``{}\\n``×N, ``a\\n``×N, OTLP records of two
bytes each) must be refused at ``LOGCLASS_MAX_LINES`` without building millions of records
first: each framing is decoded in a fresh process whose peak RSS growth is measured.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.main import create_app
from tests.hardening.conftest import offline_settings, running

ROOT = Path(__file__).resolve().parents[2]
HOSTILE_BYTES = 16 * 1024 * 1024
MAX_RSS_GROWTH_MB = 100

# Runs in a child process: builds the hostile body, then measures the peak RSS growth of
# decoding it with the production limit (10,000 events).
_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from app.sidecar import framing, otlp_codec

    kind, size = sys.argv[1], int(sys.argv[2])

    def varint(n):
        out = bytearray()
        while True:
            byte, n = n & 0x7F, n >> 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def field(number, payload):
        return varint(number << 3 | 2) + varint(len(payload)) + payload

    if kind == "json_array":
        body = b"[" + b"{}," * (size // 3) + b"{}]"
    elif kind == "ndjson":
        body = b"{}\\n" * (size // 3)
    elif kind == "text":
        body = b"a\\n" * (size // 2)
    elif kind == "otlp_protobuf":
        body = field(1, field(2, b"\\x12\\x00" * (size // 2)))
    elif kind == "otlp_json":
        records = b"[" + b"{}," * (size // 3) + b"{}]"
        body = b'{"resourceLogs":[{"scopeLogs":[{"logRecords":' + records + b"}]}]}"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        if kind.startswith("otlp"):
            media = "application/json" if kind == "otlp_json" else "application/x-protobuf"
            otlp_codec.decode_request(body, media, max_records=10_000)
        else:
            framing.parse_events(body, None, max_events=10_000)
        outcome = "decoded"
    except framing.TooManyEvents as exc:
        outcome = str(exc)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"outcome": outcome, "growth_mb": (after - before) / 1024}))
    """
)


@pytest.mark.parametrize("kind", ["json_array", "ndjson", "text", "otlp_protobuf", "otlp_json"])
def test_hostile_16mib_body_stops_at_max_lines_within_100mb(kind):
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, str(HOSTILE_BYTES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout)
    assert "at most 10000" in result["outcome"]
    assert "LOGCLASS_MAX_LINES" in result["outcome"]
    assert result["growth_mb"] <= MAX_RSS_GROWTH_MB, result


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
