"""Prometheus text exposition of a :class:`MetricsRegistry`, per app instance.

Each scrape builds a fresh ``CollectorRegistry`` holding a :class:`RegistryCollector`
over this app's registry (and the process collector), never the process-global default,
so two apps in one process (or two tests) never share series.

Names: ``logclass_`` + the registry name with ``.`` replaced by ``_``; counters end in
``_total``, timers become ``<name>_duration_seconds`` histograms plus
``<name>_errors_total``, gauges keep their name. Labels pass through unchanged.
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from monitoring.registry import Labels, MetricsRegistry, SeriesKey
from monitoring.timers import BUCKETS, TimerStats

__all__ = ["CONTENT_TYPE_LATEST", "RegistryCollector", "exposition", "metric_name"]

log = logging.getLogger(__name__)

PREFIX = "logclass_"
_INVALID = re.compile(r"[^a-zA-Z0-9_]")

# Help text for the series the service reports; anything else gets a generic line.
HELP = {
    "lines_decided": "Lines by the tier that decided them (none: ended Unclassified)",
    "templates_decided": "Distinct templates decided by each model tier (once per batch)",
    "lines_decided_cached": "Lines whose verdict came from the template cache",
    "cache_hits": "Template cache hits, by cache level",
    "cache_misses": "Template cache misses, by cache level",
    "http.requests": "HTTP requests, by method, route template and status class",
    "http.request": "HTTP request latency, by method and route template",
    "pipeline.classify": "Latency of one classify() batch",
    "tier.decide": "Latency of one model-tier call over a batch of templates",
}


def metric_name(name: str) -> str:
    """``pipeline.classify`` -> ``logclass_pipeline_classify`` (a valid Prometheus name)."""
    return PREFIX + _INVALID.sub("_", name).strip("_")


def _grouped(series: dict[SeriesKey, object]) -> dict[str, list[tuple[Labels, object]]]:
    groups: dict[str, list[tuple[Labels, object]]] = defaultdict(list)
    for (name, labels), value in sorted(series.items()):
        groups[name].append((labels, value))
    return groups


def _label_names(members: list[tuple[Labels, object]]) -> list[str]:
    return sorted({key for labels, _ in members for key, _ in labels})


def _values(labels: Labels, names: list[str]) -> list[str]:
    given = dict(labels)
    return [str(given.get(name, "")) for name in names]


class RegistryCollector:
    """A ``prometheus_client`` custom collector reading one :class:`MetricsRegistry`."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        snap = self.registry.snapshot(windows=False)  # histograms need no window
        families: dict[str, Metric] = {}

        def add(family: Metric) -> None:
            if family.name in families:  # two registry names mapped to one Prometheus name
                log.warning("metric %s reported twice; keeping the first", family.name)
            else:
                families[family.name] = family

        for name, members in _grouped(snap.counters).items():
            base = metric_name(name).removesuffix("_total")
            label_names = _label_names(members)
            fam = CounterMetricFamily(base, HELP.get(name, f"Counter {name}"), labels=label_names)
            for labels, value in members:
                fam.add_metric(_values(labels, label_names), float(value))  # type: ignore[arg-type]
            add(fam)
        for name, members in _grouped(snap.timers).items():
            base = metric_name(name)
            label_names = _label_names(members)
            doc = HELP.get(name, f"Duration of {name}")
            hist = HistogramMetricFamily(
                f"{base}_duration_seconds", doc, labels=label_names, unit="seconds"
            )
            errors = CounterMetricFamily(
                f"{base}_errors", f"Calls of {name} that failed", labels=label_names
            )
            for labels, stats in members:
                assert isinstance(stats, TimerStats)
                values = _values(labels, label_names)
                hist.add_metric(values, _cumulative(stats.buckets), stats.total)
                errors.add_metric(values, float(stats.errors))
            add(hist)
            add(errors)
        for name, members in _grouped(snap.gauges).items():
            label_names = _label_names(members)
            gauge = GaugeMetricFamily(
                metric_name(name), HELP.get(name, f"Gauge {name}"), labels=label_names
            )
            for labels, value in members:
                gauge.add_metric(_values(labels, label_names), float(value))  # type: ignore[arg-type]
            add(gauge)
        yield from families.values()


def _cumulative(counts: tuple[int, ...]) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    running = 0
    for bound, count in zip((*BUCKETS, math.inf), counts, strict=True):
        running += count
        out.append(("+Inf" if bound == math.inf else repr(bound), float(running)))
    return out


def exposition(registry: MetricsRegistry, *, process: bool = True) -> bytes:
    """The Prometheus text format (``CONTENT_TYPE_LATEST``) of ``registry`` right now."""
    scrape = CollectorRegistry()
    scrape.register(RegistryCollector(registry))
    if process:
        ProcessCollector(registry=scrape)
    return _generate_latest(scrape)
