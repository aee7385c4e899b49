"""An enriched batch as bytes on the wire, in the framing it came in or the one asked for."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from app.sidecar import convert, otlp, otlp_codec
from app.sidecar.events import EventFields

__all__ = ["Enriched", "ForwardFormat", "NDJSON", "events_of", "halves", "ndjson", "render"]

ForwardFormat = Literal["same", "ndjson", "json_array", "otlp"]
NDJSON = "application/x-ndjson"
JSON = "application/json"


@dataclass(slots=True)
class Enriched:
    """A classified batch: JSON events (``framing`` as parsed) or an OTLP request."""

    framing: Literal["json_array", "ndjson", "object", "text", "otlp"]
    events: list[dict[str, Any]] | None = None
    request: ExportLogsServiceRequest | None = None
    encoding: otlp_codec.Encoding = "protobuf"
    # set by delivery when the target took the batch but refused some of its records
    rejected: int = 0
    rejection: str = ""

    def count(self) -> int:
        if self.request is not None:
            return sum(1 for _ in otlp.iter_records(self.request))
        return len(self.events or ())


def render(batch: Enriched, fmt: ForwardFormat, fields: EventFields) -> tuple[bytes, str]:
    """``(body, content_type)``. ``same`` keeps the framing; text input becomes NDJSON (an
    enriched event is an object); ``otlp`` is protobuf."""
    if fmt == "same":
        if batch.request is not None:
            body = otlp_codec.encode(batch.request, batch.encoding)
            return body, otlp_codec.media_type(batch.encoding)
        fmt = "json_array" if batch.framing == "json_array" else "ndjson"
        if batch.framing == "object":
            return _dumps(events_of(batch, fields)[0]), JSON
    if fmt == "otlp":
        request = batch.request
        if request is None:
            request = convert.events_to_otlp(events_of(batch, fields), fields)
        return otlp_codec.encode(request, "protobuf"), otlp_codec.media_type("protobuf")
    events = events_of(batch, fields)
    if fmt == "json_array":
        return b"[" + b",".join(_dumps(e) for e in events) + b"]", JSON
    return ndjson(events), NDJSON


def halves(batch: Enriched) -> tuple[Enriched, Enriched] | None:
    """The batch as two smaller ones, first half first (for a target that answered 413);
    None for a single event, which cannot be split."""
    if batch.request is None:
        events = batch.events or []
        if len(events) < 2:
            return None
        mid = len(events) // 2
        return Enriched(batch.framing, events[:mid]), Enriched(batch.framing, events[mid:])
    total = batch.count()
    if total < 2:
        return None
    first, second = ExportLogsServiceRequest(), ExportLogsServiceRequest()
    seen = 0
    for resource_logs in batch.request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            records = list(scope_logs.log_records)
            cut = max(0, min(len(records), total // 2 - seen))
            seen += len(records)
            for part, chosen in ((first, records[:cut]), (second, records[cut:])):
                if chosen:
                    _scope_in(part, resource_logs, scope_logs).log_records.extend(chosen)
    return (
        Enriched("otlp", request=first, encoding=batch.encoding),
        Enriched("otlp", request=second, encoding=batch.encoding),
    )


def _scope_in(request: ExportLogsServiceRequest, resource_logs: Any, scope_logs: Any) -> Any:
    """A copy of ``scope_logs``'s scope (and its resource) at the end of ``request``,
    reusing the last resource when it is the same one."""
    last = request.resource_logs[-1] if request.resource_logs else None
    if last is None or last.resource != resource_logs.resource:
        last = request.resource_logs.add(schema_url=resource_logs.schema_url)
        last.resource.CopyFrom(resource_logs.resource)
    scope = last.scope_logs.add(schema_url=scope_logs.schema_url)
    scope.scope.CopyFrom(scope_logs.scope)
    return scope


def ndjson(events: list[dict[str, Any]]) -> bytes:
    """One compact JSON object per line, each line ended by a newline."""
    return b"".join(_dumps(e) + b"\n" for e in events)


def events_of(batch: Enriched, fields: EventFields) -> list[dict[str, Any]]:
    """The batch as flat JSON events (OTLP records converted)."""
    if batch.request is not None:
        return convert.otlp_to_events(batch.request, fields)
    return batch.events or []


def _dumps(event: dict[str, Any]) -> bytes:
    text = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON): escaped, as it came
        return json.dumps(event, separators=(",", ":"), default=str).encode()
