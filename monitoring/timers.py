"""Per-series latency accumulators and their immutable snapshots.

A :class:`Timer` is mutated only under its registry's lock; recording is O(log buckets).
Percentiles are computed on a :class:`TimerStats` copy, after the lock is released.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

# Upper bounds (seconds) of the Prometheus histogram buckets; +Inf is implicit. They span
# a decorated helper (tens of microseconds) to a slow LLM batch (tens of seconds).
BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip


class Timer:
    """Calls, errors, total/min/max, histogram counts and the last ``window`` durations."""

    __slots__ = ("calls", "errors", "total", "min", "max", "buckets", "recent")

    def __init__(self, window: int) -> None:
        self.calls = 0
        self.errors = 0
        self.total = 0.0
        self.min = math.inf
        self.max = 0.0
        self.buckets = [0] * (len(BUCKETS) + 1)  # the last one counts values above BUCKETS
        self.recent: deque[float] = deque(maxlen=window)

    def record(self, seconds: float, error: bool) -> None:
        self.calls += 1
        if error:
            self.errors += 1
        self.total += seconds
        if seconds < self.min:
            self.min = seconds
        if seconds > self.max:
            self.max = seconds
        self.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.recent.append(seconds)

    def freeze(self, recent: bool = True) -> TimerStats:
        """An immutable copy; ``recent=False`` skips copying the window (no percentiles)."""
        return TimerStats(
            calls=self.calls,
            errors=self.errors,
            total=self.total,
            min=self.min if self.calls else 0.0,
            max=self.max,
            buckets=tuple(self.buckets),
            recent=tuple(self.recent) if recent else (),
        )


@dataclass(frozen=True, slots=True)
class TimerStats:
    """One timer at one moment. ``calls``/``errors``/``total``/``min``/``max``/``buckets``
    cover every call since the last reset; percentiles cover only ``recent`` (the window)."""

    calls: int
    errors: int
    total: float
    min: float
    max: float
    buckets: tuple[int, ...]
    recent: tuple[float, ...]

    @property
    def mean(self) -> float:
        return self.total / self.calls if self.calls else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    def percentiles(self, *qs: float) -> tuple[float, ...]:
        """Linear-interpolated percentiles (``qs`` in 0..100) of the recent window, 0 if empty.

        ``numpy.percentile``'s default definition: of the values 1..100, p50 is 50.5 and p95
        is 95.05.
        """
        if not self.recent:
            return tuple(0.0 for _ in qs)
        return tuple(float(v) for v in np.percentile(self.recent, qs))
