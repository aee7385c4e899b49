"""Metrics for logclass: depends on nothing else in the project."""

from monitoring.registry import MetricsRegistry

__all__ = ["MetricsRegistry"]
