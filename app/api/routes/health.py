"""Health: liveness (``ok``/``degraded``, always 200) and readiness (503 while a tier the
routes need cannot work), for orchestrators that tell the two apart."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from app import openapi_examples as ex
from app import package_version
from app.api.deps import ClassifierDep
from app.schemas import HealthResponse

router = APIRouter(tags=["health"])

# The LLM is a remote server every replica shares: taking replicas out of service would not
# bring it back, and its breaker already answers `llm_unavailable` at once. It shows in
# /health as `degraded`, never in readiness.
SHARED_TIERS = frozenset({"llm"})


class ReadinessResponse(BaseModel):
    ready: bool
    blocking: dict[str, str] = Field(
        description="each tier a route needs that cannot work now, with its error"
    )


@router.head("/health", include_in_schema=False)  # for shippers' health checks (Vector)
@router.get(
    "/health",
    response_model=HealthResponse,
    summary="Service health (liveness)",
    description="Always 200 while the process serves; `status` is `degraded` when a component "
    "(model, LLM, disk cache) is failing and lines may fall back or end `Unclassified`. "
    "For a liveness probe; readiness is `/api/v1/health/ready`.",
    responses=ex.HEALTH_RESPONSES,
)
async def health(request: Request, classifier: ClassifierDep) -> HealthResponse:
    components = classifier.health()
    degraded = any(c.get("status") == "degraded" for c in components.values())
    return HealthResponse(
        status="degraded" if degraded else "ok",
        version=package_version(),
        uptime_seconds=round(time.monotonic() - request.app.state.started, 3),
        labels=list(classifier.taxonomy.label_names),
        components=components,
    )


@router.head("/health/ready", include_in_schema=False)
@router.get(
    "/health/ready",
    response_model=ReadinessResponse,
    summary="Readiness",
    description="200 while every tier some taxonomy route needs can work; 503 while one "
    "cannot (e.g. the embedding model failed to load), naming it. The LLM tier and the disk "
    "cache never block: lines then fall back, and other replicas would not fare better.",
    responses={503: {"model": ReadinessResponse, "description": "a needed tier cannot work"}},
)
async def ready(classifier: ClassifierDep, response: Response) -> ReadinessResponse:
    needed = {tier for tiers in classifier.taxonomy.routes.values() for tier in tiers}
    blocking = {
        name: _why(component)
        for name, component in classifier.health().items()
        if name in needed and name not in SHARED_TIERS and component.get("status") == "degraded"
    }
    if blocking:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return ReadinessResponse(ready=not blocking, blocking=blocking)


def _why(component: dict[str, Any]) -> str:
    return str(component.get("error") or component.get("last_error") or "degraded")
