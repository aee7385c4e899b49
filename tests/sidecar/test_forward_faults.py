"""Forwarding faults that used to lose or stall batches: timestamps OTLP cannot hold, a
downstream that takes only part of a batch or finds it too large, a blocked stdout."""

from __future__ import annotations

import asyncio
import io
import json
import threading

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from app.sidecar.events import EventFields
from app.sidecar.forward import STDOUT, Forwarder
from app.sidecar.render import Enriched
from tests.sidecar.conftest import Downstream

FORWARD = {"forward_url": "http://sink/in", "forward_retry_backoff_seconds": 0.01}
OTLP_OUT = {**FORWARD, "forward_format": "otlp"}
NS = 1_733_040_000 * 10**9  # 2024-12-01T08:00:00Z


def sent_times(downstream: Downstream) -> list[int]:
    request = ExportLogsServiceRequest.FromString(downstream.requests[0].content)
    return [
        record.time_unix_nano
        for resource_logs in request.resource_logs
        for scope_logs in resource_logs.scope_logs
        for record in scope_logs.log_records
    ]


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        (1_733_040_000, NS),  # epoch seconds
        (1_733_040_000.5, NS + 500_000_000),  # seconds with a fraction (Fluent Bit "date")
        (1_733_040_000_000, NS),  # milliseconds (JavaScript, pino)
        (1_733_040_000_000_123, NS + 123_000),  # microseconds (journald)
        (1_733_040_000_000_000_456, NS + 456),  # nanoseconds
        ("2024-12-01T08:00:00Z", NS),
        ("2024-12-01T09:00:00.123456789+01:00", NS + 123_456_789),  # beyond microseconds
        ("2024-12-01 08:00:00", NS),  # no zone: UTC
        ("1733040000000", NS),  # a number sent as text
    ],
)
async def test_common_timestamps_become_the_records_time(sidecar, time, expected):
    downstream = Downstream()
    async with sidecar(transport=downstream.transport, **OTLP_OUT) as http:
        response = await http.post("/api/v1/ingest", json=[{"message": "x", "time": time}])
    assert response.status_code == 200
    assert sent_times(downstream) == [expected]


async def test_unusable_timestamps_leave_the_time_unset_and_never_fail(sidecar):
    # 1e400 and NaN arrive as Python's json reads them: inf and nan
    body = (
        b'[{"message":"a","time":-5},{"message":"b","time":1e400},{"message":"c","time":NaN},'
        b'{"message":"d","time":-1e400},{"message":"e","time":"yesterday"},'
        b'{"message":"f","time":"1969-12-31T23:59:59Z"},{"message":"g","time":99999999999999999999999},'
        b'{"message":"h","time":true},{"message":"i","time":{"sec":1}},'
        b'{"message":"j","time":"9999-12-31T23:59:59Z"}]'
    )
    downstream = Downstream()
    async with sidecar(transport=downstream.transport, **OTLP_OUT) as http:
        response = await http.post(
            "/api/v1/ingest", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 200
    assert sent_times(downstream) == [0] * 10


async def test_a_usable_time_under_a_later_key_is_found(sidecar):
    downstream = Downstream()
    async with sidecar(transport=downstream.transport, **OTLP_OUT) as http:
        await http.post(
            "/api/v1/ingest", json=[{"message": "x", "timestamp": "soon", "time": 1_733_040_000}]
        )
    assert sent_times(downstream) == [NS]


def test_json_loads_reads_the_hostile_numbers_as_this_suite_assumes():
    assert json.loads("1e400") == float("inf")
    assert json.loads("NaN") != json.loads("NaN")


class BlockedStdout(io.RawIOBase):
    """A stdout whose reader stopped reading: every write waits until ``release()``."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.open.wait(timeout=30)
        self.data += data
        return len(data)

    def release(self) -> None:
        self.open.set()


async def test_a_blocked_stdout_does_not_starve_the_default_executor_of_cache_writes():
    stdout = BlockedStdout()
    forwarder = Forwarder(STDOUT, EventFields(), stdout=stdout)
    batches = [Enriched("ndjson", [{"message": f"line {i}"}]) for i in range(40)]
    sends = [asyncio.create_task(forwarder.send(batch)) for batch in batches]
    try:
        await asyncio.sleep(0.2)  # every send is now writing, or waiting to write
        # what the pipeline's cache write does (asyncio.to_thread): it must not queue behind
        assert await asyncio.wait_for(asyncio.to_thread(lambda: "written"), 2) == "written"
    finally:
        stdout.release()
        await asyncio.gather(*sends)
        await forwarder.aclose()
    lines = [json.loads(line)["message"] for line in bytes(stdout.data).splitlines()]
    assert sorted(lines) == sorted(f"line {i}" for i in range(40))  # every batch, whole


class Target:
    """A forward target that answers by what arrived: ``answer(events)`` gives the response,
    where ``events`` are the NDJSON events or OTLP record bodies of the request."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.received: list[list[str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.headers["content-type"] == "application/x-protobuf":
            message = ExportLogsServiceRequest.FromString(request.content)
            events = [
                r.body.string_value
                for rl in message.resource_logs
                for sl in rl.scope_logs
                for r in sl.log_records
            ]
        else:
            events = [json.loads(line)["message"] for line in request.content.splitlines()]
        self.received.append(events)
        return self.answer(events)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def too_large_over(limit: int):
    return lambda events: httpx.Response(413 if len(events) > limit else 200)


MESSAGES = [f"event {i}" for i in range(7)]
NDJSON_BODY = "".join(json.dumps({"message": m}) + "\n" for m in MESSAGES).encode()
NDJSON = {"Content-Type": "application/x-ndjson"}


def otlp_body(messages=MESSAGES) -> bytes:
    request = ExportLogsServiceRequest()
    for service in ("a", "b"):  # two resources, so a split crosses a resource boundary
        resource_logs = request.resource_logs.add()
        resource_logs.resource.attributes.add(key="service.name").value.string_value = service
        scope_logs = resource_logs.scope_logs.add()
        scope_logs.scope.name = "app"
        for message in messages[:3] if service == "a" else messages[3:]:
            scope_logs.log_records.add().body.string_value = message
    return request.SerializeToString()


def accepted(target: Target) -> list[str]:
    """What the target took (answered 2xx), in the order it arrived."""
    return [e for events in target.received if len(events) <= 2 for e in events]


async def test_a_batch_too_large_for_the_target_is_split_and_every_half_delivered_in_order(
    sidecar,
):
    target = Target(too_large_over(2))
    async with sidecar(transport=target.transport, **FORWARD) as http:
        response = await http.post("/api/v1/ingest", content=NDJSON_BODY, headers=NDJSON)
    assert response.status_code == 200
    assert accepted(target) == MESSAGES
    assert len(target.received) <= 2 * len(MESSAGES)  # halving ends


async def test_an_otlp_batch_too_large_is_split_across_resources_in_order(sidecar):
    target = Target(too_large_over(2))
    async with sidecar(transport=target.transport, **FORWARD) as http:
        response = await http.post(
            "/v1/logs", content=otlp_body(), headers={"Content-Type": "application/x-protobuf"}
        )
    assert response.status_code == 200
    assert accepted(target) == MESSAGES


async def test_one_event_too_large_for_the_target_is_502_after_the_rest_is_delivered(sidecar):
    target = Target(lambda events: httpx.Response(413 if "event 3" in events else 200))
    async with sidecar(transport=target.transport, **FORWARD) as http:
        response = await http.post("/api/v1/ingest", content=NDJSON_BODY, headers=NDJSON)
    assert response.status_code == 502
    assert "413" in response.json()["detail"] and "1 of 7" in response.json()["detail"]
    delivered = [e for events in target.received if "event 3" not in events for e in events]
    assert delivered == [m for m in MESSAGES if m != "event 3"]
    assert len(target.received) < 2 * len(MESSAGES)


def otlp_partial(rejected: int, why: str) -> httpx.Response:
    reply = ExportLogsServiceResponse()
    reply.partial_success.rejected_log_records = rejected
    reply.partial_success.error_message = why
    return httpx.Response(
        200, content=reply.SerializeToString(), headers={"Content-Type": "application/x-protobuf"}
    )


def bulk(statuses: list[int]) -> httpx.Response:
    """An Elasticsearch ``_bulk`` answer: 200 overall, one status per item."""
    items = [
        {
            "index": {
                "status": s,
                **({"error": {"type": "mapper_parsing_exception"}} if s >= 300 else {}),
            }
        }
        for s in statuses
    ]
    return httpx.Response(
        200, json={"took": 3, "errors": any(s >= 300 for s in statuses), "items": items}
    )


async def test_otlp_partial_success_downstream_is_passed_on_to_the_otlp_client(sidecar):
    target = Target(lambda events: otlp_partial(2, "2 records had no timestamp"))
    async with sidecar(transport=target.transport, **FORWARD) as http:
        response = await http.post(
            "/v1/logs", content=otlp_body(), headers={"Content-Type": "application/x-protobuf"}
        )
    assert response.status_code == 200
    reply = ExportLogsServiceResponse.FromString(response.content)
    assert reply.partial_success.rejected_log_records == 2
    assert "2 records had no timestamp" in reply.partial_success.error_message


async def test_otlp_partial_success_is_not_success_for_an_ingest_batch(sidecar):
    target = Target(lambda events: otlp_partial(1, "bad record"))
    async with sidecar(transport=target.transport, **OTLP_OUT) as http:
        response = await http.post("/api/v1/ingest", content=NDJSON_BODY, headers=NDJSON)
    assert response.status_code == 502
    assert "1 of 7" in response.json()["detail"] and "bad record" in response.json()["detail"]


async def test_otlp_json_partial_success_is_read_too(sidecar):
    answer = {"partialSuccess": {"rejectedLogRecords": "3", "errorMessage": "too old"}}
    target = Target(lambda events: httpx.Response(200, json=answer))
    async with sidecar(transport=target.transport, **FORWARD) as http:
        response = await http.post("/api/v1/ingest", content=NDJSON_BODY, headers=NDJSON)
    assert response.status_code == 502
    assert "3 of 7" in response.json()["detail"] and "too old" in response.json()["detail"]


async def test_elasticsearch_bulk_item_errors_are_not_success(sidecar):
    target = Target(lambda events: bulk([201] * 6 + [400]))
    async with sidecar(transport=target.transport, **FORWARD) as http:
        response = await http.post("/api/v1/ingest", content=NDJSON_BODY, headers=NDJSON)
    assert response.status_code == 502
    assert "1 of 7" in response.json()["detail"]
    assert "mapper_parsing_exception" in response.json()["detail"]


async def test_elasticsearch_bulk_items_refused_for_load_are_retried(sidecar):
    answers = [bulk([201] * 5 + [429, 429]), bulk([201] * 7)]
    target = Target(lambda events: answers.pop(0))
    async with sidecar(transport=target.transport, **FORWARD) as http:
        response = await http.post("/api/v1/ingest", content=NDJSON_BODY, headers=NDJSON)
    assert response.status_code == 200
    assert len(target.received) == 2


async def test_a_plain_success_answer_with_a_json_body_is_success(sidecar):
    answers = {"ok": True, "errors": False, "partialSuccess": {}}
    target = Target(lambda events: httpx.Response(200, json=answers))
    async with sidecar(transport=target.transport, **FORWARD) as http:
        response = await http.post("/api/v1/ingest", content=NDJSON_BODY, headers=NDJSON)
    assert response.status_code == 200


LONE_SURROGATE = b'[{"message":"disk \\ud800 full","note":"\\udfff"}]'


@pytest.mark.parametrize(
    "forward",
    [{}, {**FORWARD, "forward_format": "ndjson"}, OTLP_OUT],
    ids=["answer", "ndjson", "otlp"],
)
async def test_a_lone_surrogate_in_an_event_is_carried_on_not_a_500(sidecar, forward):
    target = Target(lambda events: httpx.Response(200))
    async with sidecar(transport=target.transport, **forward) as http:
        response = await http.post(
            "/api/v1/ingest", content=LONE_SURROGATE, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 200
    if not forward:  # the answer itself: escaped as it came, so it reads back the same
        assert json.loads(response.content)[0]["note"] == "\udfff"
    else:
        assert target.received[0][0].startswith("disk ")  # OTLP text is UTF-8: U+FFFD


async def test_otlp_without_a_forward_target_is_refused_not_discarded(sidecar):
    async with sidecar() as http:  # LOGCLASS_FORWARD_URL unset
        response = await http.post(
            "/v1/logs", content=otlp_body(), headers={"Content-Type": "application/x-protobuf"}
        )
        garbage = await http.post(
            "/v1/logs", content=b"\xff\xff", headers={"Content-Type": "application/x-protobuf"}
        )
        empty = await http.post("/v1/logs", json={})
    assert response.status_code == 503  # kept and retried by the exporter, not dropped
    assert response.headers["retry-after"] == "2"
    assert "LOGCLASS_FORWARD_URL" in response.json()["detail"]
    assert garbage.status_code == 400  # a bad request is still told so first
    assert empty.status_code == 200  # no records, nothing to lose
