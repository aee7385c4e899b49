"""Run the end-to-end benchmark and rewrite its BENCHMARKS.md section, chart and JSON.

    .venv/bin/python -m benchmarks.e2e                 # full run (make bench)
    .venv/bin/python -m benchmarks.e2e --quick --json /tmp/r.json   # harness check
    .venv/bin/python -m benchmarks.e2e --render-only   # redraw from results.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from benchmarks.e2e import report, runner
from benchmarks.e2e.results import Results

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MARKDOWN = REPO / "BENCHMARKS.md"
DEFAULT_CHART = REPO / "benchmarks" / "e2e_chart.png"
DEFAULT_JSON = REPO / "benchmarks" / "e2e" / "results.json"
COMMAND = "make bench"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.e2e", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="tiny workloads, short bounds; writes only the paths given")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference design")
    parser.add_argument("--render-only", action="store_true",
                        help="no measurement: redraw the section and chart from --json")
    parser.add_argument("--markdown", type=Path, help=f"default: {DEFAULT_MARKDOWN.name}")
    parser.add_argument("--chart", type=Path, help="default: benchmarks/e2e_chart.png")
    parser.add_argument("--json", type=Path, help="default: benchmarks/e2e/results.json")
    args = parser.parse_args(argv)  # fmt: skip

    defaults = not args.quick
    markdown = args.markdown or (DEFAULT_MARKDOWN if defaults else None)
    chart = args.chart or (DEFAULT_CHART if defaults else None)
    results_json = args.json or (DEFAULT_JSON if defaults else None)

    if args.render_only:
        if results_json is None or not results_json.is_file():
            parser.error("--render-only needs an existing --json file")
        results = Results.from_dict(json.loads(results_json.read_text(encoding="utf-8")))
    else:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        plan = runner.QUICK if args.quick else runner.FULL
        if args.no_reference:
            plan = runner.dataclasses.replace(plan, reference=False)
        results = runner.run(plan)
        if results_json:
            results_json.parent.mkdir(parents=True, exist_ok=True)
            results_json.write_text(json.dumps(results.as_dict(), indent=1) + "\n",
                                    encoding="utf-8")  # fmt: skip
    if chart:
        from benchmarks.e2e import chart as charting

        charting.draw(results, chart)
    if markdown:
        link = os.path.relpath(chart, markdown.parent) if chart else None
        command = COMMAND if not args.quick else "python -m benchmarks.e2e --quick"
        report.write(markdown, report.render(results, command, link))
    for goal in report.goals(results):
        print(f"{goal.name}: {goal.measured} (target {goal.target}) — {goal.verdict()}")
    bad = [row for row in results.rows if row.errors]
    for row in bad:
        print(f"errors in {row.config}/{row.workload}/{row.phase}: {row.note}", file=sys.stderr)
    for reason in results.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    broken = [r for r in results.skipped if not r.startswith(("workload ", "profiles:"))]
    return 1 if bad or broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
