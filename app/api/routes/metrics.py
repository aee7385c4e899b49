"""``GET /metrics``: the app's registry in the Prometheus text format, for scrapers."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app import openapi_examples as ex
from app.api.deps import RegistryDep
from monitoring.prometheus import CONTENT_TYPE_LATEST, exposition

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    description="Counters (`*_total`), latency histograms (`*_duration_seconds`) with "
    "`tier`, `route`, `method`, `status` and cache `level` labels, and process metrics.",
    responses=ex.METRICS_RESPONSES,
)
def metrics(registry: RegistryDep) -> Response:
    return Response(exposition(registry), media_type=CONTENT_TYPE_LATEST)
