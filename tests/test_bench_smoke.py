"""The end-to-end benchmark harness, run small against real processes so it cannot rot.

The full run is ``make bench``; here the same code drives a real ``logclass serve`` and the
LLM test server on a tiny workload, and its report is rendered into a document that
already holds another engineer's section.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

pytest.importorskip("psutil")

from benchmarks.e2e import loadgen, report, runner, workloads  # noqa: E402
from processors.taxonomy import DEFAULT_TAXONOMY_PATH  # noqa: E402
from processors.templates import mask  # noqa: E402

SMOKE = dataclasses.replace(
    runner.QUICK, loghub_per_system=10, mix_lines=60, distinct_lines=30, warm_seconds=0.5,
    latency_seconds=0.3, run_seconds=8.0, llm_delay_ms=5.0, reference=False,
)  # fmt: skip


@pytest.fixture
def no_model_taxonomy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default taxonomy routed regex → llm only, so no server loads the embedding model."""
    text = DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8")
    routes = text.index("\nroutes:")
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text[:routes] + "\nroutes:\n  default: [regex, llm]\n", encoding="utf-8")
    monkeypatch.setenv("LOGCLASS_TAXONOMY", str(path))
    return path


@pytest.mark.e2e
@pytest.mark.timeout(60)
def test_harness_measures_a_real_server_and_reports_every_row(loghub, no_model_taxonomy):
    results = runner.run(SMOKE)

    assert results.skipped == []
    by_key = {(r.workload, r.phase, r.batch): r for r in results.rows}
    cold = by_key[("loghub", "cold", SMOKE.batch)]
    assert cold.errors == 0 and cold.lines == 80 and cold.requests == 2
    assert cold.cpu_s_per_1k and cold.cpu_s_per_1k > 0
    assert cold.p50_ms and cold.p99_ms and cold.p50_ms <= cold.p99_ms
    assert cold.llm_calls_per_1k and cold.llm_calls_per_1k > 0  # templates reached the LLM
    warm = by_key[("loghub", "warm", SMOKE.batch)]
    assert warm.errors == 0 and warm.lines >= cold.lines
    assert warm.cached_share > 0.5 and warm.llm_calls_per_1k == 0  # served from the cache
    mix = by_key[("mix", "cold", SMOKE.batch)]
    assert mix.lines == 60 and mix.accuracy is not None
    assert by_key[("distinct", "cold", SMOKE.batch)].cached_share == 0
    (start,) = results.startups
    assert 0 < start.ready_s < 60 and start.first_model_tier == "llm"
    assert 0 < start.ready_rss_mb <= start.peak_rss_mb

    section = report.render(results, "pytest", "chart.png")
    document = report.replace_section("# Benchmarks\n\n## Masker\n\nkept\n", section)
    assert document.startswith("# Benchmarks\n\n## Masker\n\nkept\n\n## End-to-end benchmark")
    table = section[section.index("### Measurements") : section.index("### Cold start")]
    assert table.count("\n| logclass | ") == len(results.rows)


def test_rewriting_the_section_keeps_the_sections_around_it():
    old = "# B\n\n## A\na\n\n## End-to-end benchmark\nold\n\n## Z\nz\n"
    new = report.replace_section(old, "## End-to-end benchmark\nnew\n")
    assert new == "# B\n\n## A\na\n\n## End-to-end benchmark\nnew\n\n## Z\nz\n"
    assert report.replace_section(new, "## End-to-end benchmark\nnew\n") == new


def test_distinct_stream_has_a_new_template_on_every_line():
    lines = workloads.distinct(500).lines
    assert len({mask(line.message) for line in lines}) == 500


def test_reference_subset_is_spread_over_the_whole_workload(loghub):
    full = workloads.loghub()
    subset = full.subset(80)
    assert len(subset) == 80
    assert {line.source for line in subset.lines} == {line.source for line in full.lines}


def test_percentiles_are_nearest_rank():
    run = loadgen.RunResult(latencies=[i / 1000 for i in range(1, 101)])
    assert run.percentile_ms(50) == pytest.approx(50)
    assert run.percentile_ms(99) == pytest.approx(99)
    assert loadgen.RunResult().percentile_ms(99) is None


def test_a_missed_goal_says_by_how_much():
    missed = report.Goal("g", 10_000, 20_000, "lines/s", True).verdict()
    assert missed == "missed: 50% of the target (2.0x short)"
    assert report.Goal("p", 30, 25, "ms", False).verdict() == "missed by 5 ms (+20%)"
    assert report.Goal("p", 20, 25, "ms", False).verdict() == "met"
