"""Classification endpoints: a JSON batch, and a CSV upload answered with a streamed CSV."""

from __future__ import annotations

import io
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Annotated

from fastapi import APIRouter, Body, File, HTTPException, Request, UploadFile, status
from fastapi.responses import Response, StreamingResponse

from app import csv_io
from app import openapi_examples as ex
from app.admission import AdmittedRoute, Reservation, admit
from app.api.deps import ClassifierDep, SettingsDep
from app.limits import check_records
from app.schemas import ClassifyRequest, ClassifyResponse, Summary
from processors.pipeline import Classifier
from processors.records import LogRecord, Verdict

router = APIRouter(tags=["classify"], route_class=AdmittedRoute)
CSV_CHUNK_ROWS = 1_000


@router.post(
    "/classify",
    response_model=ClassifyResponse,
    summary="Classify a batch of log lines",
    description="One result per input line, in input order, always. Lines no tier decides "
    "come back as `Unclassified` with a `reason`.",
    responses=ex.CLASSIFY_RESPONSES,
)
async def classify(
    request: Request,
    body: Annotated[ClassifyRequest, Body(openapi_examples=ex.CLASSIFY_REQUEST_EXAMPLES)],
    classifier: ClassifierDep,
    settings: SettingsDep,
) -> Response:
    records = [LogRecord(item.source, item.log_message) for item in body.logs]
    check_records(records, settings)
    reservation = admit(request, len(records))
    started = time.perf_counter()
    try:
        verdicts = await classifier.classify(records)
    finally:
        reservation.release()
    response = ClassifyResponse.model_validate(  # one pydantic-core call for the batch
        {
            "results": [v.as_dict() for v in verdicts],
            "summary": _summary(verdicts, time.perf_counter() - started),
        }
    )
    # Already validated: a Response skips FastAPI's second pass over response_model.
    return Response(response.model_dump_json(), media_type="application/json")


def _summary(verdicts: Sequence[Verdict], elapsed: float) -> Summary:
    return Summary(
        total=len(verdicts),
        by_label=dict(Counter(v.label for v in verdicts)),
        by_tier=dict(Counter(v.tier for v in verdicts)),
        cached=sum(v.cached for v in verdicts),
        elapsed_ms=round(elapsed * 1000, 3),
    )


async def classify_csv(
    request: Request,
    classifier: ClassifierDep,
    settings: SettingsDep,
    file: Annotated[
        UploadFile, File(description="CSV with a `log_message` column (`source` optional)")
    ],
) -> StreamingResponse:
    text = io.TextIOWrapper(file.file, encoding="utf-8-sig", newline="")
    try:
        header, rows = csv_io.read_table(text, settings.max_lines)
    except csv_io.CsvError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    finally:
        text.detach()
    records = csv_io.records_of(header, rows)
    check_records(records, settings)
    reservation = admit(request, len(records))  # given back chunk by chunk as classified
    return StreamingResponse(
        _stream_csv(classifier, header, rows, records, reservation),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="classified.csv"'},
    )


async def _stream_csv(
    classifier: Classifier,
    header: list[str],
    rows: list[list[str]],
    records: list[LogRecord],
    reservation: Reservation,
) -> AsyncIterator[str]:
    yield csv_io.render_header(header)
    for start, stop in csv_io.chunks(records, CSV_CHUNK_ROWS):
        verdicts = await classifier.classify(records[start:stop])
        reservation.release(stop - start)
        yield csv_io.render_rows(header, rows[start:stop], verdicts)


_CSV_DOC = {"response_class": StreamingResponse, "responses": ex.CSV_RESPONSES}
router.add_api_route(
    "/classify/csv",
    classify_csv,
    methods=["POST"],
    summary="Classify an uploaded CSV",
    description="Multipart upload in the form field `file`, with `source,log_message` columns "
    "(other columns kept). Answers a streamed CSV with `target_label`, `confidence`, `tier` "
    "added; cells a spreadsheet would run as formulas are prefixed with `'`.\n\n"
    + ex.CSV_DESCRIPTION_EXAMPLE,
    **_CSV_DOC,
)

# The well-known reference server takes the same upload at POST /classify/ (root).
compat_router = APIRouter(tags=["classify"], route_class=AdmittedRoute)
compat_router.add_api_route(
    "/classify/",
    classify_csv,
    methods=["POST"],
    summary="Classify an uploaded CSV (reference-server compatible path)",
    description="Same as `POST /api/v1/classify/csv`, for clients of the reference server.",
    operation_id="classify_csv_compat",
    **_CSV_DOC,
)
