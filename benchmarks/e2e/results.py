"""What a benchmark run found: one :class:`Row` per measurement, cold starts, profiles.

Plain dataclasses that round-trip through JSON (``results.json``), so the report and the
chart can be redrawn without measuring again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    """One measurement: a configuration serving a workload in batches of ``batch`` lines."""

    config: str
    workload: str
    phase: str
    batch: int
    concurrency: int
    lines: int
    requests: int
    errors: int
    seconds: float
    lines_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    cpu_s_per_1k: float | None
    llm_calls_per_1k: float | None
    tiers: dict[str, int]
    cached_share: float
    accuracy: float | None = None
    note: str = ""
    client_cpu_s_per_1k: float | None = None  # the load generator's own CPU, same machine


@dataclass
class Startup:
    """Cold start of one configuration, measured from the moment the process is spawned."""

    config: str
    ready_s: float | None = None
    first_model_s: float | None = None
    first_model_tier: str | None = None
    ready_rss_mb: float | None = None
    peak_rss_mb: float | None = None


@dataclass
class Results:
    plan: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    startups: list[Startup] = field(default_factory=list)
    encode_lines_per_s: float | None = None
    encode_rates: dict[str, list[float]] = field(default_factory=dict)  # torch threads → rates
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    profiles: dict[str, dict[str, list[tuple[str, float]]]] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Results:
        return cls(
            plan=data["plan"],
            rows=[Row(**row) for row in data["rows"]],
            startups=[Startup(**s) for s in data["startups"]],
            encode_lines_per_s=data.get("encode_lines_per_s"),
            encode_rates=data.get("encode_rates", {}),
            skipped=data.get("skipped", []),
            seconds=data.get("seconds", 0.0),
            profiles=data.get("profiles", {}),
            machine=data.get("machine", {}),
        )

    def find(self, config: str, workload: str, phase: str, batch: int) -> Row | None:
        for row in self.rows:
            if (row.config, row.workload, row.phase, row.batch) == (config, workload, phase, batch):
                return row
        return None
