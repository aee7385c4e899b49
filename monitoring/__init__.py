"""Metrics for logclass: depends on nothing else in the project.

One :class:`MetricsRegistry` per app instance, passed to whatever reports; the
:func:`monitor_performance` decorator finds it as its docstring explains; the
Prometheus exposition and the JSON stats are views over a :class:`Snapshot`.
"""

from monitoring.decorator import current_registry, monitor_performance, use_registry
from monitoring.registry import MetricsRegistry, Snapshot
from monitoring.timers import TimerStats

__all__ = [
    "MetricsRegistry",
    "Snapshot",
    "TimerStats",
    "current_registry",
    "monitor_performance",
    "use_registry",
]
