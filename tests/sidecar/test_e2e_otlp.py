"""End to end with the OpenTelemetry Python SDK's real OTLP/HTTP log exporter (protobuf),
and chunked request bodies (as the OTel JS exporter sends them) over a real socket."""

from __future__ import annotations

import json
import logging
import threading
import time

import httpx
import pytest

from tests.conftest import free_port
from tests.sidecar.recorder import Received
from tests.sidecar.test_e2e_syslog_ng import make_lines

pytestmark = pytest.mark.e2e

otel_sdk = pytest.importorskip("opentelemetry.sdk._logs")
otlp_http = pytest.importorskip("opentelemetry.exporter.otlp.proto.http._log_exporter")

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (  # noqa: E402
    ExportLogsServiceRequest,
)
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402

from app.sidecar.otlp import any_value  # noqa: E402


def ship_with_otel_sdk(endpoint: str, lines: list[str], timeout: float = 5.0) -> None:
    """What an instrumented Python app does: log lines, batch-exported over OTLP/HTTP."""
    provider = otel_sdk.LoggerProvider(resource=Resource.create({"service.name": "demo-app"}))
    exporter = otlp_http.OTLPLogExporter(endpoint=endpoint, timeout=timeout)
    provider.add_log_record_processor(
        BatchLogRecordProcessor(exporter, max_export_batch_size=4, schedule_delay_millis=100)
    )
    logger = logging.getLogger(f"e2e.otel.{free_port()}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = otel_sdk.LoggingHandler(logger_provider=provider)
    logger.addHandler(handler)
    try:
        for line in lines:
            logger.error(line) if " ERROR " in line else logger.info(line)
    finally:
        logger.removeHandler(handler)
        provider.shutdown()  # flushes: every batch is exported (with retries) before it returns


def otlp_records(received: list[Received]) -> list[tuple[str, dict]]:
    records = []
    for request in received:
        message = ExportLogsServiceRequest.FromString(request.body)
        for resource_logs in message.resource_logs:
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    attributes = {kv.key: any_value(kv.value) for kv in record.attributes}
                    records.append((record.body.string_value, attributes))
    return records


def test_otel_sdk_exporter_logs_are_classified_and_forwarded(live):
    lines, labels = make_lines(0, 10)
    ship_with_otel_sdk(f"{live.url}/v1/logs", lines)
    assert live.recorder.wait_for(lambda r: len(otlp_records(r)) >= len(lines), timeout=10)
    records = otlp_records(live.recorder.received)
    assert [body for body, _ in records] == lines
    assert [attributes["log.class.label"] for _, attributes in records] == labels
    assert all(r.content_type == "application/x-protobuf" for r in live.recorder.received)


def test_otel_sdk_exporter_retries_our_503_until_the_target_is_back(live):
    lines, labels = make_lines(0, 4)
    refused_before = live.log_count('"POST /v1/logs HTTP/1.1" 503')
    live.recorder.stop()  # the target is down
    started = time.monotonic()
    threading.Timer(1.5, live.recorder.start).start()  # back while the SDK backs off
    ship_with_otel_sdk(f"{live.url}/v1/logs", lines, timeout=15)
    assert live.recorder.wait_for(lambda r: len(otlp_records(r)) >= len(lines), timeout=10)
    assert time.monotonic() - started >= 1.5
    assert live.log_count('"POST /v1/logs HTTP/1.1" 503') > refused_before
    records = otlp_records(live.recorder.received)
    assert [body for body, _ in records] == lines
    assert [attributes["log.class.label"] for _, attributes in records] == labels


def test_chunked_bodies_over_a_real_socket(live):
    lines, labels = make_lines(0, 6)
    ndjson = "\n".join(json.dumps({"program": "web", "message": line}) for line in lines).encode()
    otlp_json = {
        "resourceLogs": [
            {
                "resource": {"attributes": []},
                "scopeLogs": [{"logRecords": [{"body": {"stringValue": line}} for line in lines]}],
            }
        ]
    }

    def chunked(body: bytes):
        yield from (body[i : i + 50] for i in range(0, len(body), 50))

    ingest = httpx.post(
        f"{live.url}/api/v1/ingest",
        content=chunked(ndjson),
        headers={"Content-Type": "application/x-ndjson"},
        timeout=10,
    )
    assert ingest.request.headers["transfer-encoding"] == "chunked"
    assert ingest.status_code == 200 and ingest.json() == {"accepted": 6, "forwarded": True}
    logs = httpx.post(
        f"{live.url}/v1/logs",
        content=chunked(json.dumps(otlp_json).encode()),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert logs.status_code == 200 and logs.json() == {}
    first, second = live.recorder.received
    events = [json.loads(line) for line in first.body.splitlines()]
    assert [e["log_class"]["label"] for e in events] == labels
    forwarded = json.loads(second.body)["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    assert [r["body"]["stringValue"] for r in forwarded] == lines
