"""Forwarding faults that used to lose or stall batches: timestamps OTLP cannot hold, a
downstream that takes only part of a batch or finds it too large, a blocked stdout."""

from __future__ import annotations

import json

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

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
