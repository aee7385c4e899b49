"""Forwarding: at-least-once, the status codes shippers retry on, framings on the wire."""

import io
import json
import time

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from app.sidecar.events import EventFields
from app.sidecar.forward import Forwarder
from app.sidecar.otlp import any_value
from monitoring import MetricsRegistry
from tests.sidecar.conftest import Downstream
from tests.sidecar.test_ingest import EVENTS, LABELS, LINES, labels, ndjson

FORWARD = {"forward_url": "http://sink/in", "forward_retry_backoff_seconds": 0.01}
NDJSON = {"Content-Type": "application/x-ndjson"}


async def test_transient_downstream_faults_are_retried_and_the_shipper_gets_200(sidecar):
    downstream = Downstream(statuses=[503, 0, 200])
    async with sidecar(transport=downstream.transport, **FORWARD) as http:
        response = await http.post("/api/v1/ingest", json=EVENTS)
    assert response.status_code == 200
    assert len(downstream.requests) == 3
    assert [r.content for r in downstream.requests] == [downstream.requests[0].content] * 3


async def test_downstream_down_is_503_with_retry_after_never_500_or_4xx(sidecar):
    downstream = Downstream(default=0)
    async with sidecar(transport=downstream.transport, forward_retries=2, **FORWARD) as http:
        response = await http.post("/api/v1/ingest", json=EVENTS)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert "ConnectError" in response.json()["detail"]
    assert len(downstream.requests) == 3  # first attempt + 2 retries


async def test_downstream_overloaded_429_is_retried_honouring_retry_after(sidecar):
    downstream = Downstream(statuses=[429])
    started = time.monotonic()
    async with sidecar(transport=downstream.transport, **FORWARD) as http:
        response = await http.post("/api/v1/ingest", json=EVENTS)
    assert response.status_code == 200
    assert time.monotonic() - started >= 1.0  # the target's Retry-After: 1
    assert len(downstream.requests) == 2


async def test_slow_downstream_is_503_within_the_deadline(sidecar):
    downstream = Downstream(delay=10)
    started = time.monotonic()
    async with sidecar(
        transport=downstream.transport, ingest_deadline_seconds=0.5, **FORWARD
    ) as http:
        response = await http.post("/api/v1/ingest", json=EVENTS)
    assert response.status_code == 503
    assert "LOGCLASS_INGEST_DEADLINE_SECONDS" in response.json()["detail"]
    assert response.headers["retry-after"]
    assert time.monotonic() - started < 3


async def test_downstream_refusing_the_batch_is_502_and_not_retried(sidecar):
    downstream = Downstream(default=400)
    async with sidecar(transport=downstream.transport, **FORWARD) as http:
        response = await http.post("/api/v1/ingest", json=EVENTS)
    assert response.status_code == 502
    assert "answered 400" in response.json()["detail"]
    assert len(downstream.requests) == 1


async def test_ndjson_is_forwarded_as_ndjson_and_text_as_ndjson(sidecar):
    downstream = Downstream()
    async with sidecar(transport=downstream.transport, **FORWARD) as http:
        await http.post("/api/v1/ingest", content=ndjson(EVENTS), headers=NDJSON)
        await http.post("/api/v1/ingest", content="\n".join(LINES).encode())
    for sent in downstream.requests:
        assert sent.headers["content-type"] == "application/x-ndjson"
        events = [json.loads(line) for line in sent.content.decode().splitlines()]
        assert [e["message"] for e in events] == LINES
        assert labels(events) == LABELS


async def test_forward_format_overrides_the_framing(sidecar):
    downstream = Downstream()
    async with sidecar(transport=downstream.transport, forward_format="json_array", **FORWARD) as (
        http
    ):
        await http.post("/api/v1/ingest", content=ndjson(EVENTS), headers=NDJSON)
    assert labels(json.loads(downstream.requests[0].content)) == LABELS


async def test_events_forwarded_as_otlp_keep_order_fields_and_verdicts(sidecar):
    downstream = Downstream()
    mixed = [EVENTS[0], {**EVENTS[1], "program": "db"}, EVENTS[2], {"level": "info"}]
    async with sidecar(transport=downstream.transport, forward_format="otlp", **FORWARD) as http:
        await http.post("/api/v1/ingest", json=mixed)
    sent = downstream.requests[0]
    assert sent.headers["content-type"] == "application/x-protobuf"
    request = ExportLogsServiceRequest.FromString(sent.content)
    services = [rl.resource.attributes[0].value.string_value for rl in request.resource_logs]
    assert services == ["app", "db", "app", "default"]  # a source change never reorders
    records = [r for rl in request.resource_logs for sl in rl.scope_logs for r in sl.log_records]
    assert [r.body.string_value for r in records] == [*LINES[:3], ""]
    attributes = [{kv.key: any_value(kv.value) for kv in r.attributes} for r in records]
    assert [a["log.class.label"] for a in attributes] == [*LABELS[:3], "Unclassified"]
    assert attributes[0]["host"] == "vm" and attributes[3]["level"] == "info"
    assert attributes[3]["log.class.reason"] == "no_message"


async def test_stdout_target_writes_ndjson_batches(sidecar):
    out = io.BytesIO()
    async with sidecar(forward_url="stdout", stdout=out) as http:
        first = await http.post("/api/v1/ingest", json=EVENTS[:2])
        second = await http.post("/api/v1/ingest", content=ndjson(EVENTS[2:]), headers=NDJSON)
    assert first.status_code == second.status_code == 200
    events = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    assert labels(events) == LABELS


async def test_an_empty_batch_is_accepted_without_bothering_the_target(sidecar):
    downstream = Downstream()
    async with sidecar(transport=downstream.transport, **FORWARD) as http:
        response = await http.post("/api/v1/ingest", content=b"\n\n", headers=NDJSON)
    assert response.status_code == 200
    assert response.json() == {"accepted": 0, "forwarded": True}
    assert downstream.requests == []


async def test_batch_outcomes_and_events_are_counted_in_the_registry(sidecar):
    registry = MetricsRegistry()
    downstream = Downstream(statuses=[0, 0, 0])  # the first batch fails all three attempts
    async with sidecar(transport=downstream.transport, registry=registry, **FORWARD) as http:
        assert (await http.post("/api/v1/ingest", json=EVENTS)).status_code == 503
        assert (await http.post("/api/v1/ingest", json=EVENTS)).status_code == 200
        snapshot = registry.snapshot()
    assert snapshot.counter("sidecar_batches", outcome="unavailable") == 1
    assert snapshot.counter("sidecar_batches", outcome="ok") == 1
    assert snapshot.counter("sidecar_events", framing="json_array") == len(EVENTS)
    forward = snapshot.timer("sidecar.forward")
    assert (forward.calls, forward.errors) == (2, 1)


@pytest.mark.parametrize("url", ["htp://sink/in", "sink:9200/in", "http:///in"])
def test_a_forward_url_that_cannot_work_stops_start_up_with_its_name(url):
    with pytest.raises(ValueError, match="LOGCLASS_FORWARD_URL"):
        Forwarder(url, EventFields())
