"""Sidecar ingest: a shipper's batch of events in, each event enriched with its verdict."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from app.admission import AdmittedRoute, admit
from app.api.deps import ClassifierDep, RegistryDep, SettingsDep
from app.schemas import ErrorResponse
from app.sidecar import events as ev
from app.sidecar import framing
from app.sidecar.delivery import ForwarderDep, check_limits, deliver, read_body
from app.sidecar.render import Enriched, render
from processors.records import Verdict

router = APIRouter(tags=["sidecar"], route_class=AdmittedRoute)

_EXAMPLE_EVENT = {"program": "app", "message": "Multiple failed login attempts for user admin"}
_BODY = {
    "required": False,  # an empty body is an empty batch, answered 200
    "description": "A JSON array of events, NDJSON, one JSON object, or plain text (one event "
    "per line). The Content-Type decides: `text/plain` (and any type that is not JSON) is text "
    "lines even where a line is JSON; without a Content-Type the body decides. "
    "`Content-Encoding: gzip` and chunked bodies are accepted.",
    "content": {
        "application/json": {
            "schema": {"type": "array", "items": {"type": "object"}},
            "example": [_EXAMPLE_EVENT],
        },
        "application/x-ndjson": {"schema": {"type": "string"}},
        "text/plain": {"schema": {"type": "string"}},
    },
}
_ENRICHED = {
    "description": "Forwarding on: `{accepted, forwarded}` once the target took the batch. "
    "Forwarding off: the enriched events, framed as they came (plain text comes back as NDJSON).",
    "content": {"application/json": {}, "application/x-ndjson": {}},
}


@router.post(
    "/ingest",
    summary="Ingest a shipper batch (sidecar)",
    description="Reads each event's message and source from configurable keys, adds "
    "`log_class: {label, confidence, tier, template, reason}`, and forwards the batch to "
    "`LOGCLASS_FORWARD_URL` in the same framing. 2xx only after the target accepted it; "
    "503 with `Retry-After` while it is down or slow, so shippers retry. Events without a "
    "message are passed through with reason `no_message`, never dropped; an NDJSON line that "
    "is not a JSON event is carried on as a text event with reason `malformed_event`.",
    openapi_extra={"requestBody": _BODY},
    responses={
        200: _ENRICHED,
        400: {"model": ErrorResponse, "description": "a broken (or too deeply nested) JSON array"},
        413: {"model": ErrorResponse, "description": "body, events or message over a limit"},
        415: {"model": ErrorResponse, "description": "an unsupported Content-Encoding"},
        502: {"model": ErrorResponse, "description": "the forward target refused the batch"},
        503: {"model": ErrorResponse, "description": "target down or slow: retry after"},
    },
)
async def ingest(
    request: Request,
    classifier: ClassifierDep,
    settings: SettingsDep,
    registry: RegistryDep,
    forwarder: ForwarderDep,
) -> Response:
    body = await read_body(request, settings.max_body_bytes)
    content_type = request.headers.get("content-type")
    if content_type is None and "origin" in request.headers:
        content_type = "text/plain"  # a browser's untyped body is never structured events
    try:
        batch = framing.parse_events(body, content_type, settings.max_lines)
    except framing.MalformedBatch as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    except framing.TooManyEvents as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    fields = ev.EventFields.from_settings(settings)
    positions, records = ev.records_of(batch.events, fields)
    check_limits(len(batch.events), records, settings)
    reservation = admit(request, len(records))

    def apply(verdicts: list[Verdict]) -> Enriched:
        ev.enrich(batch.events, fields, positions, verdicts, batch.malformed)
        return Enriched(batch.framing, batch.events)

    enriched = await deliver(
        records,
        apply,
        classifier=classifier,
        forwarder=forwarder,
        registry=registry,
        deadline=settings.ingest_deadline_seconds,
        retry_after=settings.forward_retry_after_seconds,
        reservation=reservation,
    )
    if forwarder.enabled:
        return Response(
            f'{{"accepted":{len(batch.events)},"forwarded":true}}', media_type="application/json"
        )
    content, media_type = render(enriched, "same", fields)
    return Response(content, media_type=media_type)
