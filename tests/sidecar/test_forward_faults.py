"""Forwarding faults that used to lose or stall batches: timestamps OTLP cannot hold, a
downstream that takes only part of a batch or finds it too large, a blocked stdout."""

from __future__ import annotations

import asyncio
import io
import json
import threading

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

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
