"""Health: overall ``ok``/``degraded`` and the state of each component."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from app import openapi_examples as ex
from app import package_version
from app.api.deps import ClassifierDep
from app.schemas import HealthResponse

router = APIRouter(tags=["health"])


@router.head("/health", include_in_schema=False)  # for shippers' health checks (Vector)
@router.get(
    "/health",
    response_model=HealthResponse,
    summary="Service health",
    description="Always 200 while the process serves; `status` is `degraded` when a component "
    "(model, LLM, disk cache) is failing and lines may fall back or end `Unclassified`.",
    responses=ex.HEALTH_RESPONSES,
)
async def health(request: Request, classifier: ClassifierDep) -> HealthResponse:
    components = classifier.health()
    degraded = any(c.get("status") == "degraded" for c in components.values())
    return HealthResponse(
        status="degraded" if degraded else "ok",
        version=package_version(),
        uptime_seconds=round(time.monotonic() - request.app.state.started, 3),
        components=components,
    )
