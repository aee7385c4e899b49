"""The metrics registry: counters and timers, thread-safe, one per app instance.

Contract used by the rest of the code (kept stable):
``count(name, value=1, **labels)`` and ``observe(name, seconds, error=False, **labels)``.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

LabelKey = tuple[str, tuple[tuple[str, str], ...]]


def _key(name: str, labels: dict[str, str]) -> LabelKey:
    return name, tuple(sorted(labels.items()))


class MetricsRegistry:
    """Thread-safe counters and timers (event loop and worker threads write concurrently)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[LabelKey, float] = defaultdict(float)
        self._timers: dict[LabelKey, list[float]] = defaultdict(list)

    def count(self, name: str, value: float = 1, **labels: str) -> None:
        with self._lock:
            self._counters[_key(name, labels)] += value

    def observe(self, name: str, seconds: float, error: bool = False, **labels: str) -> None:
        with self._lock:
            self._timers[_key(name, labels)].append(seconds)
            if error:
                self._counters[_key(f"{name}.errors", labels)] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"counters": dict(self._counters), "timers": dict(self._timers)}
