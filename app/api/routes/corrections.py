"""Operators' corrections: a line's template on its route gets the label they give."""

from __future__ import annotations

import logging
from dataclasses import asdict

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from app.api.deps import AdminDep, ClassifierDep
from processors.corrections import CorrectionError, CorrectionStore
from processors.pipeline import OVERRIDE_TIER, Classifier
from processors.records import LogRecord, Outcome

log = logging.getLogger(__name__)
router = APIRouter(tags=["operator"])  # reads: behind LOGCLASS_API_TOKEN like classify
admin_router = APIRouter(tags=["operator"])  # changes: behind LOGCLASS_ADMIN_TOKEN


class CorrectionIn(BaseModel):
    source: str = Field("", max_length=256, description="the system that wrote the line")
    log_message: str = Field(
        min_length=1, description="a line of the template (or the template itself)"
    )
    label: str = Field(min_length=1, max_length=256, description="a taxonomy label")


class CorrectionOut(BaseModel):
    route: str
    template: str
    label: str


class CorrectionRow(CorrectionOut):
    created_at: str = Field(description="ISO 8601, UTC")


class CorrectionsResponse(BaseModel):
    corrections: list[CorrectionRow]


_ADMIN = "Needs `Authorization: Bearer <LOGCLASS_ADMIN_TOKEN>`."


@admin_router.post(
    "/corrections",
    response_model=CorrectionOut,
    summary="Correct the label of a line's template (admin)",
    description="From the next request on, every line with this line's template on its "
    "route gets `label`, with `tier: \"override\"` and confidence 1.0, on this replica and "
    "every one sharing the corrections file; it survives restarts. 422 for a label not in "
    "the taxonomy. " + _ADMIN,
)
def add_correction(_: AdminDep, body: CorrectionIn, classifier: ClassifierDep) -> CorrectionOut:
    store, (route, template) = _store(classifier), _key(classifier, body)
    if body.label not in classifier.taxonomy.label_names:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"label {body.label!r} is not in the taxonomy; allowed: "
            f"{list(classifier.taxonomy.label_names)}",
        )
    try:
        store.add(route, template, body.label)
    except (CorrectionError, OSError) as exc:
        raise _unwritable(exc) from exc
    corrected = Outcome(body.label, 1.0, OVERRIDE_TIER, None)
    classifier.template_stats.relabel((route, template), corrected)
    log.info("correction added: route=%s label=%s", route, body.label)
    return CorrectionOut(route=route, template=template, label=body.label)


@router.get(
    "/corrections",
    response_model=CorrectionsResponse,
    summary="List operators' corrections",
)
def list_corrections(classifier: ClassifierDep) -> CorrectionsResponse:
    rows = [CorrectionRow(**asdict(c)) for c in _store(classifier).all()]
    return CorrectionsResponse(corrections=rows)


@admin_router.delete(
    "/corrections",
    response_model=CorrectionOut,
    summary="Remove a correction (admin)",
    description="Same body as adding one (the label is ignored): the template is classified "
    "by the rules and models again. 404 when it has no correction. " + _ADMIN,
    responses={404: {"description": "this template has no correction"}},
)
def remove_correction(_: AdminDep, body: CorrectionIn, classifier: ClassifierDep) -> CorrectionOut:
    store, (route, template) = _store(classifier), _key(classifier, body)
    try:
        removed = store.remove(route, template)
    except (CorrectionError, OSError) as exc:
        raise _unwritable(exc) from exc
    if removed is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no correction for template {template!r} on route {route!r}"
        )
    log.info("correction removed: route=%s label=%s", route, removed.label)
    return CorrectionOut(route=route, template=template, label=removed.label)


def _store(classifier: Classifier) -> CorrectionStore:
    if classifier.corrections is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "corrections are not enabled")
    return classifier.corrections


def _key(classifier: Classifier, body: CorrectionIn) -> tuple[str, str]:
    route, template = classifier.key_for(LogRecord(body.source, body.log_message))
    if not template.strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "log_message is blank")
    return route, template


def _unwritable(exc: Exception) -> HTTPException:
    log.warning("corrections file not updated: %s", exc)
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, f"the corrections file cannot be updated: {exc}"
    )

