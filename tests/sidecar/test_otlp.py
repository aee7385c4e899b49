"""POST /v1/logs: OTLP/HTTP logs in protobuf and JSON, classified as record attributes."""

import gzip
import json

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from app.sidecar.framing import MalformedBatch, TooManyEvents
from app.sidecar.otlp import any_value
from app.sidecar.otlp_codec import decode_request, encode
from tests.sidecar.conftest import Downstream
from tests.sidecar.test_ingest import LABELS, LINES

PROTOBUF = {"Content-Type": "application/x-protobuf"}
TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN = bytes.fromhex("eee19b7ec3c1b174")


def export_request(lines=LINES, service="demo-app") -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value=service))
    )
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "app"
    for i, line in enumerate(lines):
        record = scope_logs.log_records.add(
            time_unix_nano=1_795_775_795_672_000_000 + i, severity_number=17, severity_text="ERROR"
        )
        record.body.string_value = line
        record.attributes.append(
            KeyValue(key="log.file.name", value=AnyValue(string_value="app.log"))
        )
        record.trace_id, record.span_id = TRACE, SPAN
    return request


def records_of(request):
    return [r for rl in request.resource_logs for sl in rl.scope_logs for r in sl.log_records]


def attributes(record: LogRecord) -> dict:
    return {kv.key: any_value(kv.value) for kv in record.attributes}


async def test_protobuf_records_gain_log_class_attributes_and_are_forwarded(sidecar):
    downstream = Downstream()
    async with sidecar(forward_url="http://collector/v1/logs", transport=downstream.transport) as (
        http
    ):
        response = await http.post(
            "/v1/logs", content=export_request().SerializeToString(), headers=PROTOBUF
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    ExportLogsServiceResponse.FromString(response.content)  # a valid (empty) response
    sent = downstream.requests[0]
    assert sent.headers["content-type"] == "application/x-protobuf"
    records = records_of(ExportLogsServiceRequest.FromString(sent.content))
    assert [r.body.string_value for r in records] == LINES
    found = [attributes(r) for r in records]
    assert [a["log.class.label"] for a in found] == LABELS
    assert found[0]["log.class.tier"] == "regex"
    assert found[0]["log.class.confidence"] == 1.0
    assert "log.class.template" in found[0]
    assert found[0]["log.file.name"] == "app.log"  # existing attributes kept
    assert records[0].trace_id == TRACE and records[0].severity_number == 17


async def test_otlp_json_with_hex_ids_round_trips_in_json(sidecar):
    document = json.loads(
        json.dumps(
            {
                "resourceLogs": [
                    {
                        "resource": {
                            "attributes": [
                                {"key": "service.name", "value": {"stringValue": "demo"}}
                            ]
                        },
                        "scopeLogs": [
                            {
                                "scope": {"name": "app"},
                                "logRecords": [
                                    {
                                        "timeUnixNano": "1795775795672000000",
                                        "severityNumber": 17,
                                        "body": {"stringValue": LINES[0]},
                                        "traceId": TRACE.hex(),
                                        "spanId": SPAN.hex(),
                                        "droppedAttributesCount": 0,
                                    }
                                ],
                            }
                        ],
                    }
                ]
            }
        )
    )
    downstream = Downstream()
    async with sidecar(forward_url="http://collector/v1/logs", transport=downstream.transport) as (
        http
    ):
        response = await http.post("/v1/logs", json=document)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    sent = json.loads(downstream.requests[0].content)
    record = sent["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    assert record["traceId"] == TRACE.hex() and record["spanId"] == SPAN.hex()
    assert record["timeUnixNano"] == "1795775795672000000"
    labels = {a["key"]: a["value"] for a in record["attributes"]}
    assert labels["log.class.label"] == {"stringValue": "Security Alert"}


async def test_gzip_protobuf_as_the_collector_sends_it_by_default(sidecar):
    body = gzip.compress(export_request().SerializeToString())
    downstream = Downstream()
    async with sidecar(forward_url="http://c/v1/logs", transport=downstream.transport) as http:
        response = await http.post(
            "/v1/logs", content=body, headers={**PROTOBUF, "Content-Encoding": "gzip"}
        )
    assert response.status_code == 200


async def test_records_without_text_body_pass_with_a_reason_and_old_verdicts_are_replaced(
    sidecar,
):
    request = export_request(lines=[LINES[0], ""])
    stale = records_of(request)[0]
    stale.attributes.append(KeyValue(key="log.class.label", value=AnyValue(string_value="Old")))
    structured = records_of(request)[1]
    structured.body.kvlist_value.values.append(
        KeyValue(key="msg", value=AnyValue(string_value=LINES[2]))
    )
    request.resource_logs[0].scope_logs[0].log_records.add().body.bytes_value = b"\x00\x01"
    downstream = Downstream()
    async with sidecar(forward_url="http://c/v1/logs", transport=downstream.transport) as http:
        await http.post("/v1/logs", content=request.SerializeToString(), headers=PROTOBUF)
    records = records_of(ExportLogsServiceRequest.FromString(downstream.requests[0].content))
    found = [attributes(r) for r in records]
    assert [k for k in (kv.key for kv in records[0].attributes) if k == "log.class.label"] == [
        "log.class.label"
    ]
    assert found[0]["log.class.label"] == "Security Alert"
    assert found[1]["log.class.label"] == "Critical Error"  # message key inside a kvlist body
    assert found[2]["log.class.reason"] == "no_message"


async def test_otlp_forwarded_as_ndjson_carries_log_class_like_ingest(sidecar):
    downstream = Downstream()
    async with sidecar(
        forward_url="http://sink/in", forward_format="ndjson", transport=downstream.transport
    ) as http:
        await http.post("/v1/logs", content=export_request().SerializeToString(), headers=PROTOBUF)
    events = [json.loads(line) for line in downstream.requests[0].content.splitlines()]
    assert [e["message"] for e in events] == LINES
    assert [e["log_class"]["label"] for e in events] == LABELS
    assert events[0]["resource"] == {"service.name": "demo-app"}
    assert events[0]["trace_id"] == TRACE.hex()


async def test_downstream_down_is_503_which_otlp_exporters_retry(sidecar):
    downstream = Downstream(default=0)
    async with sidecar(
        forward_url="http://c/v1/logs",
        forward_retry_backoff_seconds=0.01,
        transport=downstream.transport,
    ) as http:
        response = await http.post(
            "/v1/logs", content=export_request().SerializeToString(), headers=PROTOBUF
        )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"


async def test_garbage_protobuf_is_400_and_other_media_types_415(sidecar):
    async with sidecar() as http:
        garbage = await http.post("/v1/logs", content=b"\xff\xff\xff\xff", headers=PROTOBUF)
        not_otlp = await http.post("/v1/logs", json={"resourceLogs": "nope"})
        text = await http.post("/v1/logs", content=b"x", headers={"Content-Type": "text/plain"})
    assert garbage.status_code == 400
    assert "ExportLogsServiceRequest" in garbage.json()["detail"]
    assert not_otlp.status_code == 400
    assert text.status_code == 415


async def test_too_many_records_is_413(sidecar):
    async with sidecar(max_lines=3) as http:
        response = await http.post(
            "/v1/logs", content=export_request().SerializeToString(), headers=PROTOBUF
        )
    assert response.status_code == 413


def test_records_over_the_limit_are_refused_before_they_are_built():
    body = export_request(lines=["a"] * 11).SerializeToString()
    assert len(records_of(decode_request(body, PROTOBUF["Content-Type"], 11)[0])) == 11
    with pytest.raises(TooManyEvents, match="log records: more than 10 sent.*LOGCLASS_MAX_LINES"):
        decode_request(body, PROTOBUF["Content-Type"], max_records=10)
    document = json.loads(encode(export_request(lines=["a"] * 11), "json"))
    assert (
        len(records_of(decode_request(json.dumps(document).encode(), "application/json", 11)[0]))
        == 11
    )
    with pytest.raises(TooManyEvents, match="log records: more than 10 sent"):
        decode_request(json.dumps(document).encode(), "application/json", max_records=10)


@pytest.mark.parametrize("kind", ["resource_logs", "scope_logs"])
def test_empty_containers_count_against_the_limit_too(kind):
    request = ExportLogsServiceRequest()
    if kind == "resource_logs":
        for _ in range(11):
            request.resource_logs.add()
    else:
        resource_logs = request.resource_logs.add()
        for _ in range(11):
            resource_logs.scope_logs.add()
    for body, media in [
        (request.SerializeToString(), "application/x-protobuf"),
        (encode(request, "json"), "application/json"),
    ]:
        with pytest.raises(TooManyEvents, match=kind.replace("_", " ")):
            decode_request(body, media, max_records=10)


@pytest.mark.parametrize(
    "body",
    [
        b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "x"}}]}]}]}',
        b' {"resource_logs":[{"scope_logs":[{"log_records":[{"body":{"stringValue":"x"}}]}]}]} ',
        b'\xef\xbb\xbf{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]}',
        b'{"resourceLogs": [], "resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": '
        b'{"stringValue": "x"}}]}]}]}',
    ],
    ids=["camel", "snake", "bom", "duplicate-key"],
)
def test_otlp_json_is_read_as_json_loads_reads_it(body):
    request, _ = decode_request(body, "application/json", max_records=10)
    assert [r.body.string_value for r in records_of(request)] == ["x"]


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"resourceLogs": [}', b'{"resourceLogs": [] x', b'{"a" 1}', b'{"a": 1,}', b"[]"],
)
def test_broken_otlp_json_is_malformed(body):
    with pytest.raises(MalformedBatch):
        decode_request(body, "application/json", max_records=10)


async def test_hostile_body_of_empty_records_is_413_before_they_are_built(sidecar):
    records = b"\x12\x00" * 1_000_000  # a million empty LogRecords, two bytes each
    resource_logs = b"\x12" + _varint(len(records)) + records  # one ScopeLogs holds them
    body = b"\x0a" + _varint(len(resource_logs)) + resource_logs
    async with sidecar(max_lines=100) as http:
        response = await http.post("/v1/logs", content=body, headers=PROTOBUF)
        as_json = await http.post(
            "/v1/logs",
            content=b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[' + b"{}," * 500 + b"{}]}]}]}",
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 413
    assert "more than 100 sent" in response.json()["detail"]
    assert as_json.status_code == 413


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)
