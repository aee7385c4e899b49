"""Operators' corrections: a line's template on its route gets the label they give.

The routes are built per app (:func:`build_router`) because the schema names the labels a
correction may give: the taxonomy's, so the docs page offers them in a drop-down and a
label outside them is a plain 422 that lists them.
"""

import logging
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field, create_model

from app.api.deps import API_TOKEN_RESPONSES, AdminDep, ClassifierDep
from app.openapi_examples import ADMIN_ERRORS
from app.schemas import ErrorResponse
from processors.corrections import CorrectionError, CorrectionStore
from processors.pipeline import OVERRIDE_TIER, Classifier
from processors.records import LogRecord, Outcome

log = logging.getLogger(__name__)


class CorrectionKey(BaseModel):
    """Which template: the one of this line, on the route of this source."""

    source: str = Field("", max_length=256, description="the system that wrote the line")
    log_message: str = Field(
        min_length=1, description="a line of the template (or the template itself)"
    )


class CorrectionOut(BaseModel):
    route: str
    template: str
    label: str


class CorrectionRow(CorrectionOut):
    created_at: str = Field(description="ISO 8601, UTC")


class CorrectionsResponse(BaseModel):
    corrections: list[CorrectionRow]


_ADMIN = "Needs `Authorization: Bearer <LOGCLASS_ADMIN_TOKEN>`."
_REFUSED: dict[int | str, dict[str, Any]] = {
    **ADMIN_ERRORS,
    400: {"model": ErrorResponse, "description": "the body cannot be decoded"},
    422: {"model": ErrorResponse, "description": "a label not in the taxonomy, or no line"},
    503: {"model": ErrorResponse, "description": "the corrections file (or Redis) cannot "
          "take the change; nothing changed"},
}


def build_router(labels: Sequence[str], token: list[Any]) -> APIRouter:
    """``/corrections``: GET behind ``token`` (the API token's dependency where one is set)
    like classify, POST and DELETE behind the admin token."""
    router = APIRouter(tags=["operator"])
    label_type: Any = Literal[tuple(labels)]
    correction_in: Any = create_model(
        "CorrectionIn",
        __base__=CorrectionKey,
        label=(label_type, Field(description="one of the taxonomy's labels")),
    )

    @router.get(
        "/corrections",
        response_model=CorrectionsResponse,
        summary="List operators' corrections",
        description="Every correction in force.",
        dependencies=token,
        responses=API_TOKEN_RESPONSES if token else {},
    )
    def list_corrections(classifier: ClassifierDep) -> CorrectionsResponse:
        rows = [CorrectionRow(**asdict(c)) for c in _store(classifier).all()]
        return CorrectionsResponse(corrections=rows)

    @router.post(
        "/corrections",
        response_model=CorrectionOut,
        responses=_REFUSED,
        summary="Correct the label of a line's template (admin)",
        description="From the next request on, every line with this line's template on its "
        "route gets `label`, with `tier: \"override\"` and confidence 1.0, on this replica "
        "and every one sharing the corrections (file or Redis); it survives restarts. "
        + _ADMIN,
    )
    def add_correction(
        _: AdminDep, body: correction_in, classifier: ClassifierDep
    ) -> CorrectionOut:
        store, (route, template) = _store(classifier), _key(classifier, body)
        try:
            store.add(route, template, body.label)
        except (CorrectionError, OSError) as exc:
            raise _unwritable(exc) from exc
        corrected = Outcome(body.label, 1.0, OVERRIDE_TIER, None)
        classifier.template_stats.relabel((route, template), corrected)
        log.info("correction added: route=%s label=%s", route, body.label)
        return CorrectionOut(route=route, template=template, label=body.label)

    @router.delete(
        "/corrections",
        response_model=CorrectionOut,
        summary="Remove a correction (admin)",
        description="The body names the template as when adding (a `label` is ignored): "
        "its lines are classified by the rules and models again. 404 when it has no "
        "correction. " + _ADMIN,
        responses={**_REFUSED, 404: {"model": ErrorResponse, "description": "none to remove"}},
    )
    def remove_correction(
        _: AdminDep, body: CorrectionKey, classifier: ClassifierDep
    ) -> CorrectionOut:
        store, (route, template) = _store(classifier), _key(classifier, body)
        try:
            removed = store.remove(route, template)
        except (CorrectionError, OSError) as exc:
            raise _unwritable(exc) from exc
        if removed is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"no correction for template {template!r} on route {route!r}",
            )
        log.info("correction removed: route=%s label=%s", route, removed.label)
        return CorrectionOut(route=route, template=template, label=removed.label)

    return router


def _store(classifier: Classifier) -> CorrectionStore:
    if classifier.corrections is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "corrections are not enabled")
    return classifier.corrections


def _key(classifier: Classifier, body: CorrectionKey) -> tuple[str, str]:
    route, template = classifier.key_for(LogRecord(body.source, body.log_message))
    if not template.strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "log_message is blank")
    return route, template


def _unwritable(exc: Exception) -> HTTPException:
    log.warning("corrections not updated: %s", exc)
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, f"the corrections file cannot be updated: {exc}"
    )
