"""Concurrent clients on loopback: each posts a mixed batch, waits for the answer, checks it,
and posts the next, until the level's time is up. Bounded in time and in requests."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from benchmarks.load.workload import Mixer, Tally, body, check


@dataclass
class LevelResult:
    concurrency: int
    seconds: float
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    latencies: list[float] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, object]:
        return {
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 1),
            "requests": self.requests,
            "requests_per_s": round(self.ok / self.seconds, 1),
            "lines_per_s": round(self.tally.lines / self.seconds, 0),
            "p50_ms": round(self.percentile(0.50) * 1000, 1),
            "p95_ms": round(self.percentile(0.95) * 1000, 1),
            "p99_ms": round(self.percentile(0.99) * 1000, 1),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 1) if self.latencies else 0,
            "statuses": dict(self.statuses),
            "transport_errors": self.transport_errors,
            "lines": self.tally.lines,
            "lost": self.tally.lost,
            "misplaced": self.tally.misplaced,
            "invalid_label": self.tally.invalid_label,
            "wrong_label": self.tally.wrong_label,
            "tiers": dict(self.tally.tiers),
            "reasons": dict(self.tally.reasons),
            "problems": self.tally.bad,
        }


async def warm_up(base_url: str, mixer: Mixer) -> None:
    """One single-line request per pool template: its label is the reference for the run."""
    async with httpx.AsyncClient(base_url=base_url, timeout=120, trust_env=False) as http:
        for source, message in mixer.pool:
            logs = [{"source": source, "log_message": message}]
            response = await http.post("/api/v1/classify", json={"logs": logs})
            response.raise_for_status()
            [result] = response.json()["results"]
            mixer.reference[result["template"]] = result["label"]


async def run_level(
    base_url: str, mixer: Mixer, concurrency: int, seconds: float, batch: int,
    max_requests: int = 1_000_000,
) -> LevelResult:  # fmt: skip
    result = LevelResult(concurrency, seconds)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    deadline = time.perf_counter() + seconds

    async def client(http: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline and result.requests < max_requests:
            lines = mixer.batch(batch)
            result.requests += 1
            started = time.perf_counter()
            try:
                response = await http.post("/api/v1/classify", json=body(lines))
            except httpx.TransportError as exc:
                result.transport_errors += 1
                result.tally.note(f"transport error: {type(exc).__name__}: {exc}")
                continue
            result.statuses[response.status_code] += 1
            if response.status_code == 200:  # latency of answered requests only
                result.latencies.append(time.perf_counter() - started)
                check(lines, response.json()["results"], result.tally)
            else:
                result.tally.note(f"HTTP {response.status_code}: {response.text[:200]}")
                await asyncio.sleep(float(response.headers.get("retry-after", "0.1")))

    started = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=base_url, timeout=60, limits=limits, trust_env=False
    ) as http:  # fmt: skip
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result
