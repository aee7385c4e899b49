"""The load test's harness on a tiny run against real processes, so it cannot rot: it must
exit 0 with every answer checked and nothing lost."""

from __future__ import annotations

import json

import pytest

from benchmarks.load.__main__ import main

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_load_harness_runs_end_to_end_and_checks_every_answer(tmp_path, capsys):
    report_path = tmp_path / "load.json"
    assert main(["--levels", "2", "--seconds", "2", "--json", str(report_path)]) == 0
    [level] = json.loads(report_path.read_text())["levels"]
    assert level["requests"] > 0 and level["lines"] == 100 * level["statuses"]["200"]
    assert level["lost"] == level["misplaced"] == level["invalid_label"] == 0
    assert {"regex", "bert", "llm"} <= set(level["tiers"])  # every route was exercised
    assert "| clients | requests/s |" in capsys.readouterr().out
