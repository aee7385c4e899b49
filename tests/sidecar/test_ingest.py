"""POST /api/v1/ingest through the app: framings in and out, limits, pass-through."""

import gzip
import json

import pytest

from tests.sidecar.conftest import Downstream

LINES = [
    "2025-06-01 10:00:01 ERROR Multiple failed login attempts detected for user admin",
    "2025-06-01 10:00:02 INFO GET /v2/servers/detail HTTP/1.1 status: 200 len: 1583",
    "2025-06-01 10:00:03 CRITICAL Database connection pool exhausted",
    "2025-06-01 10:00:04 WARNING Disk usage at 91% on /var/lib/data",
]
LABELS = ["Security Alert", "HTTP Status", "Critical Error", "Resource Usage"]
EVENTS = [{"program": "app", "host": "vm", "message": line} for line in LINES]


def ndjson(events):
    return "\n".join(json.dumps(e) for e in events).encode()


def labels(events, key="log_class"):
    return [e[key]["label"] for e in events]


async def test_json_array_comes_back_enriched_as_a_json_array(sidecar):
    async with sidecar() as http:
        response = await http.post("/api/v1/ingest", json=EVENTS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    events = response.json()
    assert labels(events) == LABELS
    assert events[0]["host"] == "vm" and events[0]["program"] == "app"  # fields kept
    assert set(events[0]["log_class"]) == {"label", "confidence", "tier", "template", "reason"}
    assert events[0]["log_class"]["tier"] == "regex"


async def test_ndjson_comes_back_as_ndjson_in_order(sidecar):
    body = ndjson(EVENTS * 3)
    async with sidecar() as http:
        response = await http.post(
            "/api/v1/ingest", content=body, headers={"Content-Type": "application/x-ndjson"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    events = [json.loads(line) for line in response.text.splitlines()]
    assert [e["message"] for e in events] == LINES * 3
    assert labels(events) == LABELS * 3


async def test_syslog_ng_default_form_encoded_raw_line(sidecar):
    async with sidecar() as http:
        response = await http.post(
            "/api/v1/ingest",
            content=LINES[0].encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 200
    event = json.loads(response.text)
    assert event["message"] == LINES[0]
    assert event["log_class"]["label"] == "Security Alert"


async def test_gzip_body(sidecar):
    async with sidecar() as http:
        response = await http.post(
            "/api/v1/ingest",
            content=gzip.compress(json.dumps(EVENTS).encode()),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
    assert response.status_code == 200
    assert labels(response.json()) == LABELS


async def test_body_streamed_in_chunks(sidecar):
    body = ndjson(EVENTS)

    async def chunks():
        for i in range(0, len(body), 7):
            yield body[i : i + 7]

    async with sidecar() as http:
        response = await http.post(
            "/api/v1/ingest", content=chunks(), headers={"Content-Type": "application/x-ndjson"}
        )
    assert response.status_code == 200
    assert len(response.text.splitlines()) == len(EVENTS)


async def test_events_without_a_message_pass_through_with_a_reason(sidecar):
    batch = [{"msg": "User bob logged out"}, {"level": "info", "fields": {"a": 1}}, EVENTS[0]]
    async with sidecar() as http:
        response = await http.post("/api/v1/ingest", json=batch)
    events = response.json()
    assert len(events) == 3
    assert events[0]["log_class"]["label"] == "User Action"
    assert events[1]["fields"] == {"a": 1}
    assert events[1]["log_class"] == {
        "label": "Unclassified",
        "confidence": None,
        "tier": "none",
        "template": None,
        "reason": "no_message",
    }
    assert events[2]["log_class"]["label"] == "Security Alert"


async def test_message_and_source_from_configured_nested_keys(sidecar):
    routed = {"kubernetes": {"container_name": "LegacyCRM"}, "event": {"original": LINES[2]}}
    default = {"event": {"original": LINES[2]}}
    async with sidecar(
        ingest_message_keys="event.original", ingest_enrich_key="classification"
    ) as http:
        response = await http.post("/api/v1/ingest", json=[routed, default])
    first, second = response.json()
    assert first["classification"]["tier"] == "none"  # LegacyCRM: [llm] only, and no LLM
    assert first["classification"]["reason"].startswith("llm_")
    assert second["classification"]["label"] == "Critical Error"  # default: [regex]
    assert "log_class" not in first


@pytest.mark.parametrize("forward", [False, True], ids=["answered", "forwarded"])
async def test_a_malformed_ndjson_line_does_not_stall_the_batch(sidecar, forward):
    bad = '{"message": "cut off'
    body = ndjson(EVENTS[:2]) + b"\n" + bad.encode() + b"\n" + ndjson(EVENTS[2:])
    downstream = Downstream()
    options = {"forward_url": "http://sink/in", "transport": downstream.transport}
    async with sidecar(**(options if forward else {})) as http:
        response = await http.post(
            "/api/v1/ingest", content=body, headers={"Content-Type": "application/x-ndjson"}
        )
    assert response.status_code == 200
    sent = downstream.requests[0].content.decode() if forward else response.text
    events = [json.loads(line) for line in sent.splitlines()]
    assert [e["message"] for e in events] == LINES[:2] + [bad] + LINES[2:]
    assert labels(events[:2] + events[3:]) == LABELS
    assert [e["log_class"]["reason"] == "malformed_event" for e in events] == [
        False,
        False,
        True,
        False,
        False,
    ]


async def test_text_batch_whose_first_line_opens_like_json_is_kept(sidecar):
    body = ('{"ts": 17} ' + LINES[0] + "\n" + LINES[2] + "\n").encode()
    async with sidecar() as http:
        response = await http.post(  # no Content-Type: the body decides
            "/api/v1/ingest", content=body
        )
    assert response.status_code == 200
    first, second = (json.loads(line) for line in response.text.splitlines())
    assert first["message"] == '{"ts": 17} ' + LINES[0]
    assert first["log_class"]["reason"] == "malformed_event"
    assert second["log_class"]["label"] == "Critical Error"


FRAMINGS = {
    "json_array": lambda n: json.dumps([{"message": "m"}] * n).encode(),
    "ndjson": lambda n: ndjson([{"message": "m"}] * n),
    "text": lambda n: b"m\n" * n,
}


@pytest.mark.parametrize("framing", FRAMINGS)
async def test_too_many_events_is_413_naming_the_setting_in_every_framing(sidecar, framing):
    async with sidecar(max_lines=10) as http:
        at_limit = await http.post("/api/v1/ingest", content=FRAMINGS[framing](10))
        over = await http.post("/api/v1/ingest", content=FRAMINGS[framing](12))
    assert at_limit.status_code == 200
    assert over.status_code == 413
    assert "more than 10 sent, at most 10" in over.json()["detail"]
    assert "LOGCLASS_MAX_LINES" in over.json()["detail"]


async def test_huge_event_is_classified_on_its_head_and_forwarded_whole(sidecar):
    huge = LINES[0] + " x" * 20_000
    async with sidecar(max_line_chars=1000) as http:
        response = await http.post("/api/v1/ingest", json=[{"message": huge}])
    event = response.json()[0]
    assert event["message"] == huge
    assert event["log_class"]["label"] == "Security Alert"
    assert event["log_class"]["reason"] == "truncated"


async def test_huge_event_in_reject_mode_is_413(sidecar):
    async with sidecar(max_line_chars=1000, long_lines="reject") as http:
        response = await http.post("/api/v1/ingest", json=[EVENTS[0], {"message": "x" * 1001}])
    assert response.status_code == 413
    assert "message 2 has 1001 characters" in response.json()["detail"]


async def test_body_over_the_limit_is_413(sidecar):
    async with sidecar(max_body_bytes=4096) as http:
        response = await http.post("/api/v1/ingest", json=EVENTS * 50)
    assert response.status_code == 413


async def test_gzip_bomb_is_413_not_inflated(sidecar):
    bomb = gzip.compress(b"\n" * (64 * 1024 * 1024))
    async with sidecar(max_body_bytes=1024 * 1024) as http:
        response = await http.post(
            "/api/v1/ingest", content=bomb, headers={"Content-Encoding": "gzip"}
        )
    assert response.status_code == 413
    assert "inflates past" in response.json()["detail"]


async def test_unknown_content_encoding_is_415(sidecar):
    async with sidecar() as http:
        response = await http.post(
            "/api/v1/ingest", content=b"x", headers={"Content-Encoding": "zstd"}
        )
    assert response.status_code == 415


@pytest.mark.parametrize("path", ["/api/v1/ingest", "/api/v1/ingest/"])
async def test_forwarding_answers_a_summary_and_sends_the_events(sidecar, path):
    downstream = Downstream()
    async with sidecar(forward_url="http://sink/in", transport=downstream.transport) as http:
        response = await http.post(path, json=EVENTS)
    assert response.status_code == 200
    assert response.json() == {"accepted": 4, "forwarded": True}
    [sent] = downstream.requests
    assert sent.headers["content-type"] == "application/json"
    assert labels(json.loads(sent.content)) == LABELS


FORGED = [{"program": "sshd", "host": "bastion", "message": LINES[0], "log_class": "forged"}]


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://evil.example"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Origin": "https://evil.example"},  # fetch() with an untyped Blob body
    ],
    ids=["text/plain", "browser-text/plain", "form", "browser-no-content-type"],
)
async def test_a_text_post_cannot_inject_structured_events_downstream(sidecar, headers):
    downstream = Downstream()
    body = json.dumps(FORGED).encode() + b"\n" + ndjson(FORGED)
    async with sidecar(forward_url="http://store/bulk", transport=downstream.transport) as http:
        response = await http.post("/api/v1/ingest", content=body, headers=headers)
    assert response.status_code == 200
    forwarded = [json.loads(line) for line in downstream.requests[0].content.splitlines()]
    assert [set(e) for e in forwarded] == [{"message", "log_class"}] * 2  # no forged fields
    assert [e["message"] for e in forwarded] == body.decode().splitlines()
    assert all(isinstance(e["log_class"], dict) for e in forwarded)


async def test_without_a_content_type_a_shipper_body_still_decides(sidecar):
    async with sidecar() as http:
        response = await http.post("/api/v1/ingest", content=ndjson(EVENTS))
    assert response.status_code == 200
    events = [json.loads(line) for line in response.text.splitlines()]
    assert labels(events) == LABELS and events[0]["program"] == "app"
