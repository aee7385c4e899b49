"""Performance stats (JSON) and their reset; the numbers come from the app's registry."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app import openapi_examples as ex
from app.api.deps import AdminDep, RegistryDep, SettingsDep
from monitoring.stats import build_stats

router = APIRouter(tags=["performance"])


class FunctionStats(BaseModel):
    name: str = Field(description="timer name: `module.qualname` for decorated functions")
    labels: dict[str, str] = Field(description="e.g. `tier` for tier.decide, `route` for HTTP")
    calls: int
    errors: int = Field(description="calls that raised (HTTP: 5xx responses)")
    error_rate: float = Field(description="errors / calls, 0..1")
    avg_ms: float
    min_ms: float
    max_ms: float
    p50_ms: float = Field(description="percentiles over the last `window` calls")
    p95_ms: float
    p99_ms: float
    window: int = Field(description="how many recent calls the percentiles cover")


class CacheLevelStats(BaseModel):
    hits: int
    misses: int
    hit_rate: float = Field(description="hits / (hits + misses), 0 before any lookup")


class SlowFunction(BaseModel):
    function: str = Field(description="key into `functions`")
    p95_ms: float
    calls: int


class PerformanceStats(BaseModel):
    """Everything measured since start-up or the last reset."""

    uptime_seconds: float = Field(description="since the app started")
    measured_seconds: float = Field(description="since the last reset (or start-up)")
    functions: dict[str, FunctionStats] = Field(
        description="every timer, keyed `name` or `name{label=value,...}`"
    )
    tiers: dict[str, int] = Field(
        description="lines per deciding tier (`none`: ended Unclassified)"
    )
    lines_decided_cached: int = Field(description="lines whose verdict came from the cache")
    caches: dict[str, CacheLevelStats] = Field(description="per cache level (`l1`, `l2`)")
    slow_threshold_ms: float = Field(description="LOGCLASS_SLOW_THRESHOLD_MS")
    slow_functions: list[SlowFunction] = Field(
        description="functions whose p95 exceeds the threshold, slowest first"
    )
    counters: dict[str, float] = Field(description="every counter, raw")
    gauges: dict[str, float] = Field(description="current values (cache size, breaker state)")


class ResetResponse(BaseModel):
    reset_at: datetime = Field(description="when the measurements were zeroed (UTC)")


@router.get(
    "/performance/stats",
    response_model=PerformanceStats,
    summary="Latency, errors, tier and cache counts",
    description="Per function: calls, errors, avg/min/max and p50/p95/p99 in milliseconds; "
    "lines per tier; cache hits per level; functions slower than the threshold at p95.",
    responses=ex.STATS_RESPONSES,
)
def performance_stats(registry: RegistryDep, settings: SettingsDep) -> PerformanceStats:
    # sync on purpose: FastAPI runs it in a worker thread, so computing percentiles over
    # many timers never stalls the event loop (the registry is thread-safe).
    stats = build_stats(registry.snapshot(), slow_threshold_ms=settings.slow_threshold_ms)
    return PerformanceStats.model_validate(stats)


@router.post(
    "/performance/reset",
    response_model=ResetResponse,
    summary="Zero the measurements (admin)",
    description="Counters and timers start again from zero; gauges keep their current value. "
    "Needs `Authorization: Bearer <LOGCLASS_ADMIN_TOKEN>`.",
    responses=ex.RESET_RESPONSES,
)
def reset_performance(_: AdminDep, registry: RegistryDep) -> ResetResponse:
    registry.reset()
    return ResetResponse(reset_at=datetime.fromtimestamp(registry.reset_at, UTC))
