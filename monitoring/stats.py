"""The JSON view of a :class:`Snapshot` served at ``/api/v1/performance/stats``.

Plain dicts of plain numbers (milliseconds for durations), so the HTTP layer only wraps
them in its response schema. Series names the service reports, read here:
``lines_decided{tier}``, ``lines_decided_cached``, ``cache_hits{level}``,
``cache_misses{level}``; every timer is listed under ``functions``.
"""

from __future__ import annotations

from typing import Any

from monitoring.registry import Labels, Snapshot
from monitoring.timers import TimerStats


def series_label(name: str, labels: Labels) -> str:
    """``tier.decide`` with ``tier=bert`` -> ``tier.decide{tier=bert}``."""
    if not labels:
        return name
    return name + "{" + ",".join(f"{key}={value}" for key, value in labels) + "}"


def timer_stats(name: str, labels: Labels, stats: TimerStats) -> dict[str, Any]:
    p50, p95, p99 = stats.percentiles(50, 95, 99)
    return {
        "name": name,
        "labels": dict(labels),
        "calls": stats.calls,
        "errors": stats.errors,
        "error_rate": stats.error_rate,
        "avg_ms": stats.mean * 1e3,
        "min_ms": stats.min * 1e3,
        "max_ms": stats.max * 1e3,
        "p50_ms": p50 * 1e3,
        "p95_ms": p95 * 1e3,
        "p99_ms": p99 * 1e3,
        "window": len(stats.recent),
    }


def build_stats(snap: Snapshot, slow_threshold_ms: float) -> dict[str, Any]:
    """Functions, tiers, caches, slow functions (p95 above the threshold) and uptime."""
    functions = {
        series_label(name, labels): timer_stats(name, labels, stats)
        for (name, labels), stats in sorted(snap.timers.items())
    }
    slow = sorted(
        (
            {"function": key, "p95_ms": entry["p95_ms"], "calls": entry["calls"]}
            for key, entry in functions.items()
            if entry["p95_ms"] > slow_threshold_ms
        ),
        key=lambda entry: -entry["p95_ms"],
    )
    tiers: dict[str, int] = {}
    caches: dict[str, dict[str, Any]] = {}
    for (name, labels), value in sorted(snap.counters.items()):
        label_map = dict(labels)
        if name == "lines_decided" and "tier" in label_map:
            tiers[label_map["tier"]] = tiers.get(label_map["tier"], 0) + int(value)
        elif name in ("cache_hits", "cache_misses"):
            level = caches.setdefault(label_map.get("level", "all"), {"hits": 0, "misses": 0})
            level["hits" if name == "cache_hits" else "misses"] += int(value)
    for level in caches.values():
        looked_up = level["hits"] + level["misses"]
        level["hit_rate"] = level["hits"] / looked_up if looked_up else 0.0
    return {
        "uptime_seconds": snap.taken_at - snap.started_at,
        "measured_seconds": snap.taken_at - snap.reset_at,
        "functions": functions,
        "tiers": tiers,
        "lines_decided_cached": int(snap.counter("lines_decided_cached")),
        "caches": caches,
        "slow_threshold_ms": slow_threshold_ms,
        "slow_functions": slow,
        "counters": {series_label(n, lb): v for (n, lb), v in sorted(snap.counters.items())},
        "gauges": {series_label(n, lb): v for (n, lb), v in sorted(snap.gauges.items())},
    }
