"""The load generator: pre-encoded JSON batches posted over real HTTP by a few async workers.

Closed loop: ``concurrency`` workers each keep one request in flight; the run stops after
``max_requests`` requests or once ``max_seconds`` have passed (requests already sent are
awaited), whichever comes first, so a slow server cannot make a run unbounded. Every answer
is checked: status 200 and exactly one result per line sent; anything else counts as an
error, never as throughput.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

CLASSIFY_PATH = "/api/v1/classify"


@dataclass
class RunResult:
    """What one run of the load generator saw, from the client's side."""

    requests: int = 0
    lines: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, one per good request
    tiers: Counter[str] = field(default_factory=Counter)
    cached: int = 0
    labels: dict[int, list[str]] = field(default_factory=dict)  # body index → labels
    first_error: str | None = None

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float | None:
        """The ``q``-th percentile (0..100) of request latency, nearest-rank, in ms."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000


async def drive(
    base_url: str,
    bodies: Sequence[bytes],
    line_counts: Sequence[int],
    *,
    concurrency: int = 1,
    max_requests: int | None = None,
    max_seconds: float = 30.0,
    keep_labels: bool = False,
    timeout: float = 300.0,
) -> RunResult:
    """Post ``bodies`` in order (cycling when ``max_requests`` exceeds them) and measure."""
    if not bodies or len(bodies) != len(line_counts):
        raise ValueError("need one line count per body, and at least one body")
    total = len(bodies) if max_requests is None else max_requests
    result = RunResult()
    next_index = 0
    headers = {"content-type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient, stop_at: float) -> None:
        nonlocal next_index
        while next_index < total and time.perf_counter() < stop_at:
            i = next_index
            next_index += 1
            body, expected = bodies[i % len(bodies)], line_counts[i % len(bodies)]
            sent = time.perf_counter()
            try:
                response = await client.post(CLASSIFY_PATH, content=body, headers=headers)
                elapsed = time.perf_counter() - sent
                _record(result, i % len(bodies), response, expected, elapsed, keep_labels)
            except httpx.HTTPError as exc:
                result.errors += 1
                result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"

    async with httpx.AsyncClient(
        base_url=base_url, timeout=timeout, limits=limits, trust_env=False
    ) as client:
        started = time.perf_counter()
        stop_at = started + max_seconds
        await asyncio.gather(*(worker(client, stop_at) for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
    return result


def _record(
    result: RunResult,
    index: int,
    response: httpx.Response,
    expected: int,
    elapsed: float,
    keep_labels: bool,
) -> None:
    result.requests += 1
    if response.status_code != 200:
        result.errors += 1
        problem = f"HTTP {response.status_code}: {response.text[:200]}"
        result.first_error = result.first_error or problem
        return
    payload = json.loads(response.content)
    verdicts = payload.get("results", [])
    if len(verdicts) != expected:
        result.errors += 1
        result.first_error = result.first_error or f"{len(verdicts)} results for {expected} lines"
        return
    result.lines += expected
    result.latencies.append(elapsed)
    result.tiers.update(v.get("tier", "?") for v in verdicts)
    result.cached += sum(1 for v in verdicts if v.get("cached"))
    if keep_labels:
        result.labels[index] = [v.get("label") for v in verdicts]


def run(base_url: str, bodies: Sequence[bytes], line_counts: Sequence[int], **kwargs) -> RunResult:
    """:func:`drive` from synchronous code (the runner), on a fresh event loop."""
    return asyncio.run(drive(base_url, bodies, line_counts, **kwargs))
