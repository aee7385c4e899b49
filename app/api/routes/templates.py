"""The templates that flow, most seen first, with how each is labelled now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.api.deps import ClassifierDep

router = APIRouter(tags=["operator"])


class TemplateRow(BaseModel):
    route: str = Field(description="the taxonomy route the template's lines took")
    template: str
    label: str
    confidence: float | None
    tier: str = Field(description="what decided its latest lines")
    count: int = Field(description="lines seen (space-saving count: may over-count rare ones)")
    first_seen: str = Field(description="ISO 8601, UTC")
    last_seen: str = Field(description="ISO 8601, UTC")


class TemplatesResponse(BaseModel):
    templates: list[TemplateRow]
    tracked: int = Field(description="templates tracked now")
    capacity: int = Field(description="at most this many are tracked (LOGCLASS_TEMPLATES_TOP_K)")


@router.get(
    "/templates",
    response_model=TemplatesResponse,
    summary="Templates seen most, with their labels",
    description="The templates seen since start, most lines first, each with its latest "
    "label, tier and confidence. Filters combine; `max_confidence` keeps doubtful labels "
    "and `Unclassified` (no confidence). Counts are kept for a bounded number of templates, "
    "so memory stays flat whatever the traffic.",
)
def templates(
    classifier: ClassifierDep,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 50,
    source: Annotated[str | None, Query(max_length=256, description="a source name")] = None,
    label: Annotated[str | None, Query(max_length=256)] = None,
    tier: Annotated[str | None, Query(max_length=32)] = None,
    max_confidence: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
) -> TemplatesResponse:
    stats = classifier.template_stats
    route = classifier.taxonomy.route_for(source) if source is not None else None
    rows = stats.top(limit, route=route, label=label, tier=tier, max_confidence=max_confidence)
    return TemplatesResponse(
        templates=[TemplateRow(**row) for row in rows], tracked=len(stats), capacity=stats.capacity
    )
