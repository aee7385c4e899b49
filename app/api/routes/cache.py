"""Admin: empty the template cache (both levels), e.g. after relabelling by hand."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app import openapi_examples as ex
from app.api.deps import AdminDep, ClassifierDep

log = logging.getLogger(__name__)

router = APIRouter(tags=["performance"])


class ClearCacheResponse(BaseModel):
    enabled: bool = Field(description="false when caching is off (LOGCLASS_CACHE_ENABLED=false)")
    cleared: dict[str, int] = Field(
        description="entries each level held before clearing: `l1` (memory), `l2` (disk; 0 "
        "when the disk cache is off or failing)",
        examples=[{"l1": 412, "l2": 5120}],
    )


_DOC = dict(
    response_model=ClearCacheResponse,
    summary="Empty the template cache (admin)",
    description="Drops every cached model verdict from memory and disk, so the next lines are "
    "classified afresh. Regex verdicts are never cached. Needs "
    "`Authorization: Bearer <LOGCLASS_ADMIN_TOKEN>`.",
    responses=ex.CLEAR_CACHE_RESPONSES,
)


@router.post("/performance/clear-cache", **_DOC)
def clear_cache(_: AdminDep, classifier: ClassifierDep) -> ClearCacheResponse:
    # sync on purpose: FastAPI runs it in a worker thread, so disk deletes never stall the loop
    cache = classifier.cache
    clear = getattr(cache, "clear", None)
    if clear is None:
        return ClearCacheResponse(enabled=False, cleared={"l1": 0, "l2": 0})
    cleared = clear()
    log.info("template cache cleared by admin request: %s", cleared)
    return ClearCacheResponse(enabled=True, cleared=cleared)
