"""Between the two shapes of an enriched batch: flat JSON events and OTLP log records.

Used only when the forward format differs from the framing a batch came in. Order is
kept: consecutive events of one source share a ``ResourceLogs``; a change of source starts
a new one, so no event moves.
"""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord as OtlpRecord

from app.sidecar.events import EventFields
from app.sidecar.otlp import ATTRIBUTE_PREFIX, SERVICE_NAME, any_value

__all__ = ["otlp_to_events", "events_to_otlp"]

SCOPE_NAME = "logclass"
_TIME_KEYS = ("timestamp", "@timestamp", "time", "date", "ts")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")
_FRACTION = re.compile(r"(?<=:[0-9]{2})[.,]([0-9]+)")
_SCALES = (
    (Decimal(10**11), 10**9),
    (Decimal(10**14), 10**6),
    (Decimal(10**17), 10**3),
    (Decimal(2**64), 1),
)
_MAX_NANOS = 2**64  # OTLP's fixed64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SURROGATE = re.compile("[\ud800-\udfff]")


def otlp_to_events(request: ExportLogsServiceRequest, fields: EventFields) -> list[dict[str, Any]]:
    """One flat event per log record, with the verdict under ``fields.enrich_key`` as well
    as in ``attributes`` (``log.class.*``), so NDJSON readers find it where ingest puts it."""
    events: list[dict[str, Any]] = []
    for resource_logs in request.resource_logs:
        resource = {kv.key: any_value(kv.value) for kv in resource_logs.resource.attributes}
        for scope_logs in resource_logs.scope_logs:
            scope = {"name": scope_logs.scope.name, "version": scope_logs.scope.version}
            for record in scope_logs.log_records:
                events.append(_event_of(record, resource, scope, fields))
    return events


def events_to_otlp(events: list[dict[str, Any]], fields: EventFields) -> ExportLogsServiceRequest:
    """An OTLP request: the message as the body, the other fields as attributes, the
    verdict as ``log.class.*`` attributes, the source as ``service.name``."""
    request = ExportLogsServiceRequest()
    current_source: str | None = None
    records = None
    now = time.time_ns()
    for event in events:
        source = fields.source_of(event)
        if records is None or source != current_source:
            resource_logs = request.resource_logs.add()
            resource_logs.resource.attributes.append(_kv(SERVICE_NAME, source))
            scope_logs = resource_logs.scope_logs.add()
            scope_logs.scope.name = SCOPE_NAME
            records = scope_logs.log_records
            current_source = source
        records.append(_record_of(event, fields, now))
    return request


def _event_of(
    record: OtlpRecord, resource: dict[str, Any], scope: dict[str, str], fields: EventFields
) -> dict[str, Any]:
    attributes = {kv.key: any_value(kv.value) for kv in record.attributes}
    verdict = {
        key[len(ATTRIBUTE_PREFIX) :]: value
        for key, value in attributes.items()
        if key.startswith(ATTRIBUTE_PREFIX)
    }
    event: dict[str, Any] = {
        "time_unix_nano": record.time_unix_nano,
        "observed_time_unix_nano": record.observed_time_unix_nano,
        "severity_number": record.severity_number,
        "severity_text": record.severity_text,
        fields.message_keys[0] if fields.message_keys else "message": any_value(record.body),
        "attributes": attributes,
        "resource": resource,
        "scope": scope,
    }
    if record.trace_id:
        event["trace_id"] = record.trace_id.hex()
        event["span_id"] = record.span_id.hex()
    event[fields.enrich_key] = {
        "label": verdict.get("label"),
        "confidence": verdict.get("confidence"),
        "tier": verdict.get("tier"),
        "template": verdict.get("template"),
        "reason": verdict.get("reason"),
    }
    return event


def _record_of(event: dict[str, Any], fields: EventFields, now: int) -> OtlpRecord:
    record = OtlpRecord(observed_time_unix_nano=now, time_unix_nano=_time_of(event))
    found = fields.message_field(event)
    message_key = None
    if found is not None:
        message_key, message = found
        record.body.string_value = _utf8(message)
    for key, value in event.items():
        if key == message_key:  # a top-level message became the body; a nested one stays
            continue
        if key == fields.enrich_key and isinstance(value, dict):
            for name, part in value.items():
                if part is not None:
                    record.attributes.append(_kv(ATTRIBUTE_PREFIX + name, part))
            continue
        record.attributes.append(_kv(key, value))
    return record


def _time_of(event: dict[str, Any]) -> int:
    """Epoch nanoseconds from the first time key that holds a usable time, else 0 (unset).

    Never raises: a time OTLP cannot hold (before 1970, past 2554, infinite, NaN, not a
    time at all) is left unset rather than failing the whole batch on every retry.
    """
    for key in _TIME_KEYS:
        nanos = _nanos(event.get(key))
        if nanos:
            return nanos
    return 0


def _nanos(value: Any) -> int:
    if isinstance(value, str):
        text = value.strip()
        number = _number_text(text)
        return _epoch_nanos(number) if number is not None else _iso_nanos(text)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _epoch_nanos(value)
    return 0


def _number_text(text: str) -> Decimal | None:
    if len(text) > 40 or not _NUMBER.fullmatch(text):
        return None
    return Decimal(text)


def _epoch_nanos(value: float | Decimal) -> int:
    """Seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude (a
    count of seconds under 1e11 is before the year 5138; real times never overlap)."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(repr(value))
    except InvalidOperation:
        return 0
    if not number.is_finite() or number <= 0:
        return 0
    for limit, scale in _SCALES:
        if number < limit:
            nanos = int(number * scale)
            return nanos if 0 < nanos < _MAX_NANOS else 0
    return 0


def _iso_nanos(text: str) -> int:
    """ISO 8601 / RFC 3339 (``Z`` or an offset; none means UTC), to the nanosecond."""
    fraction = 0
    match = _FRACTION.search(text)
    if match:  # datetime keeps microseconds only: take the digits here
        fraction = int(match.group(1)[:9].ljust(9, "0"))
        text = text[: match.start()] + text[match.end() :]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        delta = moment - _EPOCH
    except OverflowError:
        return 0
    nanos = (delta.days * 86_400 + delta.seconds) * 10**9 + fraction
    return nanos if 0 < nanos < _MAX_NANOS else 0


def _utf8(text: str) -> str:
    """``text`` as protobuf can hold it: a lone surrogate (JSON ``"\ud800"``) becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def _kv(key: str, value: Any) -> KeyValue:
    kv = KeyValue(key=_utf8(key))
    kv.value.CopyFrom(_any(value))
    return kv


def _any(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=_utf8(value))
    if isinstance(value, bytes):
        return AnyValue(string_value=base64.b64encode(value).decode())
    if isinstance(value, dict):
        out = AnyValue()
        out.kvlist_value.values.extend(_kv(str(k), v) for k, v in value.items())
        return out
    if isinstance(value, list):
        out = AnyValue()
        out.array_value.values.extend(_any(v) for v in value)
        return out
    if value is None:
        return AnyValue()
    return AnyValue(string_value=_utf8(json.dumps(value, default=str)))
