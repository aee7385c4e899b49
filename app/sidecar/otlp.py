"""OTLP/HTTP logs: ``ExportLogsServiceRequest`` in protobuf or JSON, classified in place.

Decoding and encoding use the ``opentelemetry-proto`` messages and protobuf's
``json_format``; the one OTLP/JSON rule protobuf does not know (trace and span ids are hex,
not base64) is applied here. Enrichment adds ``log.class.*`` attributes to each record and
keeps everything else, including unknown fields, byte for byte.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord as OtlpRecord

from app.sidecar.events import NESTED_TOO_DEEPLY, NO_MESSAGE, EventFields, MalformedBatch
from processors.records import LogRecord, Verdict

__all__ = [
    "Encoding",
    "UnsupportedMediaType",
    "decode_request",
    "encode",
    "media_type",
    "records_of",
    "enrich",
    "iter_records",
    "any_value",
    "ATTRIBUTE_PREFIX",
]

Encoding = Literal["protobuf", "json"]
ATTRIBUTE_PREFIX = "log.class."
SERVICE_NAME = "service.name"
_MEDIA = {"protobuf": "application/x-protobuf", "json": "application/json"}
_ID_FIELDS = ("traceId", "spanId", "trace_id", "span_id")


class UnsupportedMediaType(ValueError):
    """Neither ``application/x-protobuf`` nor ``application/json`` (415)."""


def media_type(encoding: Encoding) -> str:
    return _MEDIA[encoding]


def encoding_of(content_type: str | None) -> Encoding:
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in ("application/x-protobuf", "application/protobuf"):
        return "protobuf"
    if kind == "application/json":
        return "json"
    raise UnsupportedMediaType(
        f"Content-Type {kind or '(none)'!r} is not OTLP/HTTP: send application/x-protobuf "
        "or application/json"
    )


def decode_request(
    body: bytes, content_type: str | None
) -> tuple[ExportLogsServiceRequest, Encoding]:
    """The request and its encoding; MalformedBatch names what is wrong."""
    encoding = encoding_of(content_type)
    request = ExportLogsServiceRequest()
    if encoding == "protobuf":
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise MalformedBatch(f"body is not an ExportLogsServiceRequest: {exc}") from exc
        return request, encoding
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedBatch(f"body is not JSON: {exc}") from exc
    except RecursionError:
        raise MalformedBatch(f"OTLP/JSON body {NESTED_TOO_DEEPLY}") from None
    if not isinstance(document, dict):
        raise MalformedBatch("OTLP/JSON body must be an object with resourceLogs")
    try:
        json_format.ParseDict(_ids_hex_to_base64(document), request, ignore_unknown_fields=True)
    except MalformedBatch:
        raise
    except RecursionError:
        raise MalformedBatch(f"OTLP/JSON body {NESTED_TOO_DEEPLY}") from None
    except (json_format.ParseError, OverflowError, ValueError, TypeError) as exc:
        # ParseDict lets a number it cannot convert (1e400, NaN as an integer) escape as
        # OverflowError/ValueError: the client's input, so a 400 like any other.
        raise MalformedBatch(
            f"body is not an OTLP/JSON ExportLogsServiceRequest: {exc or type(exc).__name__}"
        ) from exc
    return request, encoding


def encode(
    message: ExportLogsServiceRequest | ExportLogsServiceResponse, encoding: Encoding
) -> bytes:
    """OTLP/HTTP bytes: protobuf, or OTLP/JSON (camelCase, integer enums, hex ids)."""
    if encoding == "protobuf":
        return message.SerializeToString()
    document = json_format.MessageToDict(message, use_integers_for_enums=True)
    return json.dumps(_ids_base64_to_hex(document), separators=(",", ":")).encode()


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


def _ids_hex_to_base64(document: dict[str, Any]) -> dict[str, Any]:
    for record in _json_records(document):
        for key in _ID_FIELDS:
            value = record.get(key)
            if isinstance(value, str) and value:
                try:
                    record[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError as exc:
                    raise MalformedBatch(f"logRecords {key} {value!r} is not hex") from exc
    return document


def _ids_base64_to_hex(document: dict[str, Any]) -> dict[str, Any]:
    for record in _json_records(document):
        for key in _ID_FIELDS:
            if key in record:  # json_format wrote it, so it is valid base64
                record[key] = base64.b64decode(record[key]).hex()
    return document


def _json_records(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for resource_logs in _list(document, "resourceLogs", "resource_logs"):
        for scope_logs in _list(resource_logs, "scopeLogs", "scope_logs"):
            for record in _list(scope_logs, "logRecords", "log_records"):
                if isinstance(record, dict):
                    yield record


def _list(node: Any, camel: str, snake: str) -> list[Any]:
    """OTLP/JSON uses camelCase; protobuf's JSON parser also takes the proto names."""
    if not isinstance(node, dict):
        return []
    value = node.get(camel, node.get(snake))
    return value if isinstance(value, list) else []
