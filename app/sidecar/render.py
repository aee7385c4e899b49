"""An enriched batch as bytes on the wire, in the framing it came in or the one asked for."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from app.sidecar import convert, otlp
from app.sidecar.events import EventFields

__all__ = ["Enriched", "ForwardFormat", "NDJSON", "events_of", "ndjson", "render"]

ForwardFormat = Literal["same", "ndjson", "json_array", "otlp"]
NDJSON = "application/x-ndjson"
JSON = "application/json"


@dataclass(slots=True)
class Enriched:
    """A classified batch: JSON events (``framing`` as parsed) or an OTLP request."""

    framing: Literal["json_array", "ndjson", "object", "text", "otlp"]
    events: list[dict[str, Any]] | None = None
    request: ExportLogsServiceRequest | None = None
    encoding: otlp.Encoding = "protobuf"

    def count(self) -> int:
        if self.request is not None:
            return sum(1 for _ in otlp.iter_records(self.request))
        return len(self.events or ())


def render(batch: Enriched, fmt: ForwardFormat, fields: EventFields) -> tuple[bytes, str]:
    """``(body, content_type)``. ``same`` keeps the framing; text input becomes NDJSON (an
    enriched event is an object); ``otlp`` is protobuf."""
    if fmt == "same":
        if batch.request is not None:
            return otlp.encode(batch.request, batch.encoding), otlp.media_type(batch.encoding)
        fmt = "json_array" if batch.framing == "json_array" else "ndjson"
        if batch.framing == "object":
            return _dumps(events_of(batch, fields)[0]), JSON
    if fmt == "otlp":
        request = batch.request
        if request is None:
            request = convert.events_to_otlp(events_of(batch, fields), fields)
        return otlp.encode(request, "protobuf"), otlp.media_type("protobuf")
    events = events_of(batch, fields)
    if fmt == "json_array":
        return b"[" + b",".join(_dumps(e) for e in events) + b"]", JSON
    return ndjson(events), NDJSON


def ndjson(events: list[dict[str, Any]]) -> bytes:
    """One compact JSON object per line, each line ended by a newline."""
    return b"".join(_dumps(e) + b"\n" for e in events)


def events_of(batch: Enriched, fields: EventFields) -> list[dict[str, Any]]:
    """The batch as flat JSON events (OTLP records converted)."""
    if batch.request is not None:
        return convert.otlp_to_events(batch.request, fields)
    return batch.events or []


def _dumps(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str).encode()
