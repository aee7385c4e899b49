"""The templates top-k: bounded memory, heavy hitters kept, filters."""

import random

from processors.records import Outcome
from processors.template_stats import TemplateStats

ERROR = Outcome("Error", 0.93, "bert", None)


def test_memory_is_bounded_and_heavy_hitters_survive_a_flood_of_one_offs():
    stats = TemplateStats(capacity=100)
    rng = random.Random(7)
    for batch in range(2_000):
        rows = [(("default", f"heavy {h}"), 5, ERROR) for h in range(10)]
        rows += [(("default", f"once {batch}-{k}-{rng.random()}"), 1, ERROR) for k in range(20)]
        stats.record(rows)
    assert len(stats) <= 100
    top = stats.top(limit=10)
    assert {row["template"] for row in top} == {f"heavy {h}" for h in range(10)}
    assert all(row["count"] >= 5 * 2_000 for row in top)  # never under-counted


def test_latest_verdict_is_shown_and_filters_combine():
    stats = TemplateStats(capacity=10, clock=iter([100.0, 200.0]).__next__)
    stats.record([(("nginx", "GET <PATH>"), 3, Outcome("HTTP Status", 1.0, "regex", None)),
                  (("default", "zzz"), 1, Outcome("Unclassified", None, "none", "x"))])
    stats.record([(("default", "zzz"), 1, Outcome("Error", 0.4, "llm", None))])
    zzz = stats.top(route="default")[0]
    assert (zzz["label"], zzz["tier"], zzz["count"]) == ("Error", "llm", 2)
    assert zzz["first_seen"] == "1970-01-01T00:01:40+00:00"
    assert zzz["last_seen"] == "1970-01-01T00:03:20+00:00"
    assert [r["template"] for r in stats.top(max_confidence=0.5)] == ["zzz"]
    assert stats.top(label="HTTP Status", tier="regex")[0]["template"] == "GET <PATH>"
    assert stats.top(label="HTTP Status", tier="bert") == []
