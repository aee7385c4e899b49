"""Where the generic rules run: on every raw line, or once per new template (``match: template``).

Run from the repo root:  .venv/bin/python benchmarks/bench_rules.py [--rounds 5]

Over all 16,000 Loghub lines (``Content`` of ``../shared/data/loghub/*_structured.csv``),
in alternating rounds, best round reported, per line:

- ``line rules``: the default taxonomy's raw-line rules, as every request pays them today;
- ``+ generic rules on lines``: the same plus the ``match: template`` rules moved onto the
  raw line (the naive placement: every line, warm or not, pays them);
- ``+ generic rules on templates``: the line rules, plus the template rules once per
  distinct template of the stream, spread over its lines (what a cache miss pays; a warm
  line pays nothing).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from processors.regex import RegexTier  # noqa: E402
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy  # noqa: E402
from processors.templates import mask  # noqa: E402

LOGHUB = ROOT.parent / "shared" / "data" / "loghub"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    files = sorted(LOGHUB.glob("*_structured.csv"))
    if not files:
        print(f"no Loghub samples in {LOGHUB}; nothing to measure")
        return 0
    lines = [row["Content"] for path in files
             for row in csv.DictReader(path.open(newline="", encoding="utf-8"))]
    templates = sorted({mask(line) for line in lines})
    taxonomy = Taxonomy.load(DEFAULT_TAXONOMY_PATH)
    on_line = RegexTier(taxonomy.rules_on("line"))
    moved = RegexTier(taxonomy.rules_on("line") + tuple(
        replace(rule, match="line") for rule in taxonomy.rules_on("template")))
    on_template = RegexTier(taxonomy.rules_on("template"))

    def per_line(run) -> float:
        started = time.perf_counter()
        run()
        return (time.perf_counter() - started) / len(lines) * 1e6

    modes = {
        "line rules": lambda: [on_line.match(line) for line in lines],
        "+ generic rules on lines": lambda: [moved.match(line) for line in lines],
        "+ generic rules on templates": lambda: ([on_line.match(line) for line in lines],
                                                 [on_template.match(t) for t in templates]),
    }
    best = {name: float("inf") for name in modes}
    for _ in range(args.rounds):
        for name, run in modes.items():
            best[name] = min(best[name], per_line(run))
    print(f"{len(lines)} lines, {len(templates)} distinct templates, best of {args.rounds}")
    print(f"{'mode':<32}{'us/line':>9}{'x line rules':>14}")
    for name, micros in best.items():
        print(f"{name:<32}{micros:>9.2f}{micros / best['line rules']:>14.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
