"""OTLP/HTTP logs receiver: classify each log record, add ``log.class.*`` attributes, forward."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from app.admission import AdmittedRoute, admit
from app.api.deps import ClassifierDep, RegistryDep, SettingsDep
from app.schemas import ErrorResponse
from app.sidecar import otlp, otlp_codec
from app.sidecar.delivery import ForwarderDep, check_limits, deliver, read_body
from app.sidecar.events import EventFields
from app.sidecar.framing import MalformedBatch, TooManyEvents
from app.sidecar.render import Enriched
from processors.records import Verdict

router = APIRouter(tags=["sidecar"], route_class=AdmittedRoute)

_BODY = {
    "required": True,
    "description": "An `ExportLogsServiceRequest`, as protobuf or OTLP/JSON; gzip accepted.",
    "content": {
        "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": {"type": "object"}},
    },
}


@router.post(
    "/v1/logs",
    summary="OTLP/HTTP logs receiver (sidecar)",
    description="Point an OpenTelemetry exporter (`otlphttp`, SDK OTLP/HTTP log exporters) "
    "here. Each record gains `log.class.label`, `log.class.confidence`, `log.class.tier`, "
    "`log.class.template` attributes; the request is forwarded to `LOGCLASS_FORWARD_URL`. "
    "The reply is an `ExportLogsServiceResponse` in the request's encoding (with "
    "`partial_success` when the target refused some records); 503 with `Retry-After` while "
    "the target is down (OTLP exporters retry it), or when `LOGCLASS_FORWARD_URL` is unset: "
    "without a target, records are refused, never accepted and discarded.",
    openapi_extra={"requestBody": _BODY},
    responses={
        200: {
            "description": "ExportLogsServiceResponse",
            "content": {"application/x-protobuf": {}, "application/json": {}},
        },
        400: {"model": ErrorResponse, "description": "not an ExportLogsServiceRequest"},
        413: {"model": ErrorResponse, "description": "body or record count over a limit"},
        415: {"model": ErrorResponse, "description": "not protobuf or JSON, or unknown encoding"},
        502: {"model": ErrorResponse, "description": "the forward target refused the batch"},
        503: {
            "model": ErrorResponse,
            "description": "target down or slow, or no LOGCLASS_FORWARD_URL: retry after",
        },
    },
)
async def export_logs(
    request: Request,
    classifier: ClassifierDep,
    settings: SettingsDep,
    registry: RegistryDep,
    forwarder: ForwarderDep,
) -> Response:
    body = await read_body(request, settings.max_body_bytes)
    try:
        message, encoding = otlp_codec.decode_request(
            body, request.headers.get("content-type"), settings.max_lines
        )
    except otlp_codec.UnsupportedMediaType as exc:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(exc)) from exc
    except TooManyEvents as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    except MalformedBatch as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    fields = EventFields.from_settings(settings)
    every, classified, records = otlp.records_of(message, fields)
    check_limits(len(every), records, settings)
    if every and not forwarder.enabled:  # a 200 would say the records are safe: they are not
        registry.count("sidecar_batches", outcome="not_configured")
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "forwarding is not configured: set LOGCLASS_FORWARD_URL (a URL or 'stdout') for "
            "/v1/logs to deliver enriched records; nothing was accepted, retry once it is set",
            headers={"Retry-After": str(settings.forward_retry_after_seconds)},
        )
    reservation = admit(request, len(records))

    def apply(verdicts: list[Verdict]) -> Enriched:
        otlp.enrich(every, classified, verdicts)
        return Enriched("otlp", request=message, encoding=encoding)

    delivered = await deliver(
        records,
        apply,
        classifier=classifier,
        forwarder=forwarder,
        registry=registry,
        deadline=settings.ingest_deadline_seconds,
        retry_after=settings.forward_retry_after_seconds,
        partial_ok=True,
        reservation=reservation,
    )
    answer = ExportLogsServiceResponse()
    if delivered.rejected:  # the target refused some records for good: say so, OTLP's way
        answer.partial_success.rejected_log_records = delivered.rejected
        answer.partial_success.error_message = delivered.rejection
    reply = otlp_codec.encode(answer, encoding)
    return Response(reply, media_type=otlp_codec.media_type(encoding))
