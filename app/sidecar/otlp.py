"""OTLP log records classified in place: what to classify in each, and ``log.class.*``.

``otlp_codec`` turns bodies into ``ExportLogsServiceRequest`` messages and back; this
module reads each record's message (the body, or a message key in a structured body) and
source (the resource's ``service.name``), and adds the verdict as ``log.class.*``
attributes, keeping everything else, unknown fields included, byte for byte.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord as OtlpRecord

from app.sidecar.events import NO_MESSAGE, EventFields
from processors.records import LogRecord, Verdict

__all__ = [
    "ATTRIBUTE_PREFIX",
    "SERVICE_NAME",
    "any_value",
    "enrich",
    "iter_records",
    "records_of",
]

ATTRIBUTE_PREFIX = "log.class."
SERVICE_NAME = "service.name"


def iter_records(request: ExportLogsServiceRequest) -> Iterator[tuple[dict[str, Any], OtlpRecord]]:
    """Each log record, in order, with its resource's attributes as a dict."""
    for resource_logs in request.resource_logs:
        resource = {kv.key: any_value(kv.value) for kv in resource_logs.resource.attributes}
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                yield resource, record


def records_of(
    request: ExportLogsServiceRequest, fields: EventFields
) -> tuple[list[OtlpRecord], list[OtlpRecord], list[LogRecord]]:
    """All records; those with a message; and what to classify for them, in order.

    The message is the body when it is text (or a number), else the first message key in a
    structured body; the source is the resource's ``service.name``, else the default.
    """
    every: list[OtlpRecord] = []
    with_message: list[OtlpRecord] = []
    records: list[LogRecord] = []
    for resource, record in iter_records(request):
        every.append(record)
        message = _message_of(record.body, fields)
        if message is not None:
            source = resource.get(SERVICE_NAME)
            with_message.append(record)
            records.append(LogRecord(str(source or fields.default_source), message))
    return every, with_message, records


def enrich(
    every: Sequence[OtlpRecord], classified: Sequence[OtlpRecord], verdicts: Sequence[Verdict]
) -> None:
    """Sets ``log.class.*`` on every record (replacing older ones); ``no_message`` if none."""
    decided = {id(r): v for r, v in zip(classified, verdicts, strict=True)}
    for record in every:
        verdict = decided.get(id(record))
        kept = [kv for kv in record.attributes if not kv.key.startswith(ATTRIBUTE_PREFIX)]
        del record.attributes[:]
        record.attributes.extend(kept)
        if verdict is None:
            _set(record, "label", "Unclassified")
            _set(record, "tier", "none")
            _set(record, "reason", NO_MESSAGE)
            continue
        _set(record, "label", verdict.label)
        if verdict.confidence is not None:
            _set(record, "confidence", float(verdict.confidence))
        _set(record, "tier", verdict.tier)
        _set(record, "template", verdict.template)
        if verdict.reason:
            _set(record, "reason", verdict.reason)


def any_value(value: AnyValue) -> Any:
    """An ``AnyValue`` as plain JSON-able Python (bytes as base64 text)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


def _message_of(body: AnyValue, fields: EventFields) -> str | None:
    kind = body.WhichOneof("value")
    if kind == "string_value":
        return body.string_value or None
    if kind in ("int_value", "double_value"):
        return str(getattr(body, kind))
    if kind == "kvlist_value":
        return fields.message_of(any_value(body))
    return None


def _set(record: OtlpRecord, name: str, value: str | float) -> None:
    kv = KeyValue(key=ATTRIBUTE_PREFIX + name)
    if isinstance(value, float):
        kv.value.double_value = value
    else:
        kv.value.string_value = value
    record.attributes.append(kv)
