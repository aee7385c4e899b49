"""OTLP/HTTP on the wire: ``ExportLogsServiceRequest`` in protobuf or OTLP/JSON, and back.

Decoding and encoding use the ``opentelemetry-proto`` messages and protobuf's
``json_format``; the one OTLP/JSON rule protobuf does not know (trace and span ids are hex,
not base64) is applied here. Records are counted while decoding, from the protobuf wire
format or item by item in OTLP/JSON, so a request over ``LOGCLASS_MAX_LINES`` is refused
before its records are built.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any, Literal

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from app.sidecar.framing import NESTED_TOO_DEEPLY, MalformedBatch, TooManyEvents

__all__ = [
    "Encoding",
    "UnsupportedMediaType",
    "decode_request",
    "encode",
    "encoding_of",
    "media_type",
]

Encoding = Literal["protobuf", "json"]
_MEDIA = {"protobuf": "application/x-protobuf", "json": "application/json"}
_ID_FIELDS = ("traceId", "spanId", "trace_id", "span_id")
# ExportLogsServiceRequest.resource_logs → ResourceLogs.scope_logs → ScopeLogs.log_records:
# field numbers, OTLP/JSON names (camelCase and proto names), and what they are called.
_FIELD_NUMBERS = (1, 2, 2)
_JSON_KEYS = (("resourceLogs", "resource_logs"), ("scopeLogs", "scope_logs"))
_JSON_KEYS += (("logRecords", "log_records"),)
_KINDS = ("resource logs", "scope logs", "log records")
_decoder = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\r\n]*")


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
    body: bytes, content_type: str | None, max_records: int | None = None
) -> tuple[ExportLogsServiceRequest, Encoding]:
    """The request and its encoding; MalformedBatch names what is wrong.

    Raises TooManyEvents when the request holds more than ``max_records`` log records (or
    ResourceLogs, or ScopeLogs), counted before they are built: from the protobuf wire
    format, or while the OTLP/JSON arrays are decoded item by item.
    """
    encoding = encoding_of(content_type)
    request = ExportLogsServiceRequest()
    limit = len(body) + 1 if max_records is None else max_records  # no body holds more
    if encoding == "protobuf":
        _count_wire_records(body, limit)
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise MalformedBatch(f"body is not an ExportLogsServiceRequest: {exc}") from exc
        return request, encoding
    try:
        document = _loads_counted(body.decode("utf-8-sig"), limit)
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


def _count_wire_records(data: bytes, limit: int) -> None:
    """TooManyEvents once ``data`` holds more than ``limit`` records (or containers of
    them), read from the wire format without building a message. Stops quietly where the
    bytes are not protobuf: ParseFromString then says what is wrong."""
    counts = [0, 0, 0]

    def walk(start: int, end: int, depth: int) -> None:
        for inner_start, inner_end in _wire_fields(data, start, end, _FIELD_NUMBERS[depth]):
            counts[depth] += 1
            if counts[depth] > limit:
                raise TooManyEvents(limit, _KINDS[depth])
            if depth < 2:
                walk(inner_start, inner_end, depth + 1)

    walk(0, len(data), 0)


def _wire_fields(data: bytes, pos: int, end: int, number: int) -> Iterator[tuple[int, int]]:
    """Where each length-delimited field ``number`` of the message in data[pos:end] lies."""
    while pos < end:
        key, pos = _varint(data, pos, end)
        wire_type = key & 7
        if wire_type == 0:
            _, pos = _varint(data, pos, end)
        elif wire_type in (1, 5):
            pos += 8 if wire_type == 1 else 4
        elif wire_type == 2:
            size, pos = _varint(data, pos, end)
            if pos + size > end:
                return
            if key >> 3 == number:
                yield pos, pos + size
            pos += size
        else:  # groups (deprecated, not in OTLP) or garbage
            return


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """The varint at ``pos`` and where it ends; past ``end`` when it is cut off."""
    value = shift = 0
    while pos < end and shift < 70:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return 0, end + 1


def _loads_counted(text: str, limit: int) -> Any:
    """``json.loads(text)``, except that resourceLogs, scopeLogs and logRecords are decoded
    item by item and counted: TooManyEvents past ``limit`` of any, before the rest is built."""
    counts = [0, 0, 0]

    def skip(pos: int) -> int:
        return _SPACE.match(text, pos).end()  # type: ignore[union-attr]  # always matches

    def expect(pos: int, allowed: str, msg: str) -> str:
        if pos >= len(text) or text[pos] not in allowed:
            raise json.JSONDecodeError(msg, text, pos)
        return text[pos]

    def value(pos: int, depth: int) -> tuple[Any, int]:
        if depth > 2 or text[pos : pos + 1] != "{":
            return _decoder.raw_decode(text, pos)
        document: dict[str, Any] = {}
        pos = skip(pos + 1)
        if text[pos : pos + 1] == "}":
            return document, pos + 1
        while True:
            expect(pos, '"', "Expecting property name enclosed in double quotes")
            key, pos = _decoder.raw_decode(text, pos)
            pos = skip(pos)
            expect(pos, ":", "Expecting ':' delimiter")
            pos = skip(pos + 1)
            if key in _JSON_KEYS[depth] and text[pos : pos + 1] == "[":
                document[key], pos = array(pos, depth)
            else:
                document[key], pos = _decoder.raw_decode(text, pos)
            pos = skip(pos)
            if expect(pos, ",}", "Expecting ',' delimiter") == "}":
                return document, pos + 1
            pos = skip(pos + 1)

    def array(pos: int, depth: int) -> tuple[list[Any], int]:
        items: list[Any] = []
        pos = skip(pos + 1)
        if text[pos : pos + 1] == "]":
            return items, pos + 1
        while True:
            counts[depth] += 1
            if counts[depth] > limit:
                raise TooManyEvents(limit, _KINDS[depth])
            item, pos = value(pos, depth + 1)
            items.append(item)
            pos = skip(pos)
            if expect(pos, ",]", "Expecting ',' delimiter") == "]":
                return items, pos + 1
            pos = skip(pos + 1)

    document, pos = value(skip(0), 0)
    if skip(pos) < len(text):
        raise json.JSONDecodeError("Extra data", text, skip(pos))
    return document


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
