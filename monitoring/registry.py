"""The metrics registry: counters, timers and gauges; thread-safe, one per app instance.

Contract used by the rest of the code (kept stable):
``count(name, value=1, **labels)`` and ``observe(name, seconds, error=False, **labels)``.

Guarantees: safe to call from the event loop and worker threads at once, and no update is
ever lost; a recording holds the lock for a few dictionary operations only (about a
microsecond), and reading (:meth:`snapshot`) copies under the lock and computes
percentiles and formats after releasing it. Label values are strings.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from monitoring.timers import Timer, TimerStats

log = logging.getLogger(__name__)

Labels = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, Labels]  # (metric name, sorted label pairs)

DEFAULT_WINDOW = 1_000


def series_key(name: str, labels: dict[str, str]) -> SeriesKey:
    return name, tuple(sorted(labels.items())) if labels else ()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every series at one moment; plain data, safe to read without locks."""

    counters: dict[SeriesKey, float]
    timers: dict[SeriesKey, TimerStats]
    gauges: dict[SeriesKey, float]
    started_at: float  # wall-clock time the registry was created
    reset_at: float  # wall-clock time of the last reset (== started_at if never reset)
    taken_at: float

    def counter(self, name: str, **labels: str) -> float:
        return self.counters.get(series_key(name, labels), 0.0)

    def timer(self, name: str, **labels: str) -> TimerStats | None:
        return self.timers.get(series_key(name, labels))

    def gauge(self, name: str, **labels: str) -> float | None:
        return self.gauges.get(series_key(name, labels))


class MetricsRegistry:
    """Counters, timers (calls, errors, min/max, histogram, percentiles over the last
    ``window`` measurements per series) and gauges (set, or read from a callback)."""

    def __init__(self, window: int = DEFAULT_WINDOW, *, clock: Callable[[], float] = time.time):
        if window < 1:
            raise ValueError(f"metrics window must be at least 1 measurement, got {window}")
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._counters: dict[SeriesKey, float] = {}
        self._timers: dict[SeriesKey, Timer] = {}
        self._gauges: dict[SeriesKey, float] = {}
        self._gauge_callbacks: dict[SeriesKey, Callable[[], float]] = {}
        self.started_at = self.reset_at = clock()

    # -- recording (hot path) -----------------------------------------------------------

    def count(self, name: str, value: float = 1, **labels: str) -> None:
        """Add ``value`` (>= 0: counters only go up) to the counter ``name{labels}``."""
        key = (name, tuple(sorted(labels.items()))) if labels else (name, ())
        with self._lock:
            self._counters[key] = self._counters.get(key, 0) + value

    def observe(self, name: str, seconds: float, error: bool = False, **labels: str) -> None:
        """Record one duration of ``name{labels}``; ``error`` marks a call that failed."""
        key = (name, tuple(sorted(labels.items()))) if labels else (name, ())
        with self._lock:
            timer = self._timers.get(key)
            if timer is None:
                timer = self._timers[key] = Timer(self.window)
            timer.record(seconds, error)

    def set_gauge(self, name: str, value: float, **labels: str) -> None:
        """Set the current value of ``name{labels}`` (e.g. cache size, breaker state)."""
        key = series_key(name, labels)
        with self._lock:
            self._gauges[key] = value

    def gauge_callback(self, name: str, read: Callable[[], float], **labels: str) -> None:
        """Read ``name{labels}`` from ``read()`` at every snapshot (replaces an earlier one).

        ``read`` runs outside the lock; if it raises, the gauge is left out of that snapshot.
        """
        key = series_key(name, labels)
        with self._lock:
            self._gauge_callbacks[key] = read

    # -- reading ------------------------------------------------------------------------

    def snapshot(self, *, windows: bool = True) -> Snapshot:
        """Everything, copied under the lock; ``windows=False`` leaves the timers' recent
        windows out (no percentiles), which keeps the lock time short for exporters."""
        with self._lock:
            counters = dict(self._counters)
            timers = {key: timer.freeze(windows) for key, timer in self._timers.items()}
            gauges = dict(self._gauges)
            callbacks = list(self._gauge_callbacks.items())
            reset_at = self.reset_at
        for key, read in callbacks:
            try:
                gauges[key] = float(read())
            except Exception:
                log.warning("gauge %s could not be read", key[0], exc_info=True)
        return Snapshot(counters, timers, gauges, self.started_at, reset_at, self._clock())

    def reset(self) -> None:
        """Zero every counter and timer; gauges are current state and stay."""
        with self._lock:
            self._counters.clear()
            self._timers.clear()
            self.reset_at = self._clock()
