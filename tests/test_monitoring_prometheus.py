"""Prometheus exposition of a registry: names, units, labels and histogram semantics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from monitoring import MetricsRegistry
from monitoring.prometheus import exposition, metric_name


def parse(registry: MetricsRegistry) -> dict[str, dict[tuple, float]]:
    """family name -> {(sample name, sorted labels): value}; the parser validates the text."""
    text = exposition(registry, process=False).decode()
    return {
        family.name: {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
        for family in text_string_to_metric_families(text)
    }


def test_names_are_prefixed_sanitised_and_carry_conventional_suffixes():
    assert metric_name("pipeline.classify") == "logclass_pipeline_classify"
    assert metric_name("llm.call-latency") == "logclass_llm_call_latency"
    registry = MetricsRegistry()
    registry.count("llm_calls_total", outcome="ok")  # already suffixed: not doubled
    registry.observe("llm.call", 0.2)
    registry.set_gauge("cache.size", 3, level="l1")
    families = parse(registry)
    assert families["logclass_llm_calls"][("logclass_llm_calls_total", (("outcome", "ok"),))] == 1
    assert "logclass_llm_call_duration_seconds" in families
    assert families["logclass_llm_call_errors"][("logclass_llm_call_errors_total", ())] == 0
    assert families["logclass_cache_size"][("logclass_cache_size", (("level", "l1"),))] == 3


def test_histogram_buckets_are_cumulative_and_a_value_on_a_bound_falls_in_that_bucket():
    registry = MetricsRegistry()
    for seconds in (0.001, 0.001, 0.02, 3.0, 100.0):
        registry.observe("tier.decide", seconds, tier="llm")
    samples = parse(registry)["logclass_tier_decide_duration_seconds"]

    def bucket(le: str) -> float:
        name = "logclass_tier_decide_duration_seconds_bucket"
        return samples[(name, (("le", le), ("tier", "llm")))]

    assert bucket("0.001") == 2
    assert bucket("0.025") == 3
    assert bucket("2.5") == 3 and bucket("5.0") == 4
    assert bucket("30.0") == 4 and bucket("+Inf") == 5
    count = samples[("logclass_tier_decide_duration_seconds_count", (("tier", "llm"),))]
    total = samples[("logclass_tier_decide_duration_seconds_sum", (("tier", "llm"),))]
    assert count == 5 and abs(total - 103.022) < 1e-9


def test_series_of_one_name_with_different_label_sets_still_parse():
    registry = MetricsRegistry()
    registry.count("lines_decided_cached", 4)
    registry.count("lines_decided_cached", 1, tier="bert")
    samples = parse(registry)["logclass_lines_decided_cached"]
    assert samples[("logclass_lines_decided_cached_total", (("tier", ""),))] == 4
    assert samples[("logclass_lines_decided_cached_total", (("tier", "bert"),))] == 1


def test_a_failing_gauge_callback_does_not_break_the_scrape():
    registry = MetricsRegistry()
    registry.gauge_callback("breaker.open", lambda: 1 / 0)
    registry.count("http.requests", route="/api/v1/classify", method="POST", status="2xx")
    families = parse(registry)
    assert "logclass_breaker_open" not in families
    assert "logclass_http_requests" in families


def test_two_registries_never_share_series():
    first, second = MetricsRegistry(), MetricsRegistry()
    first.count("lines_decided", 3, tier="regex")
    assert "logclass_lines_decided" in parse(first)
    assert "logclass_lines_decided" not in parse(second)
    assert b"process_cpu_seconds_total" in exposition(second)
