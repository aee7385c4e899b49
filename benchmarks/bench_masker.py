"""Template masker: grouping quality on Loghub and single-core throughput, beside baselines.

Run from the repo root:  .venv/bin/python benchmarks/bench_masker.py [--drain3]

Per Loghub system: lines, distinct templates, ground-truth EventIds, grouping accuracy (share of
lines whose template group has exactly the members of their EventId group) and purity (share of
lines whose template group is dominated by their own EventId). Throughput is `mask` over every
Loghub line, repeated, on one core, timed in the same run as a one-regex digit masker.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from processors.templates import mask  # noqa: E402

LOGHUB = ROOT / ".." / "shared" / "data" / "loghub"
SYSTEMS = ("Apache", "BGL", "HDFS", "Linux", "OpenSSH", "OpenStack", "Spark", "Zookeeper")
_DIGITS = re.compile(r"\d+")


def naive_mask(message: str) -> str:
    """The baseline: every run of digits is a number."""
    return _DIGITS.sub("<NUM>", message)


def load(system: str) -> list[tuple[str, str]]:
    """(Content, EventId) rows of one system's structured sample."""
    with (LOGHUB / f"{system}_2k.log_structured.csv").open(newline="", encoding="utf-8") as f:
        return [(row["Content"], row["EventId"]) for row in csv.DictReader(f)]


def scores(templates: list[str], events: list[str]) -> tuple[float, float]:
    """(grouping accuracy, purity) of a template per line against ground-truth event ids."""
    by_template: dict[str, list[int]] = defaultdict(list)
    event_sizes = Counter(events)
    for i, template in enumerate(templates):
        by_template[template].append(i)
    exact = pure = 0
    for members in by_template.values():
        counts = Counter(events[i] for i in members)
        for event, n in counts.items():
            if n * 2 > len(members):
                pure += n
            if len(counts) == 1 and event_sizes[event] == n:
                exact += n
    return exact / len(events), pure / len(events)


def drain3_templates(messages: Iterable[str]) -> list[str]:
    """Drain3 with its default settings, two passes so each line gets its final cluster."""
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    messages = list(messages)
    ids = [miner.add_log_message(m)["cluster_id"] for m in messages]
    return [str(i) for i in ids]


def quality(name: str, run: Callable[[list[str]], list[str]]) -> list[tuple]:
    rows = []
    for system in SYSTEMS:
        data = load(system)
        messages = [m for m, _ in data]
        events = [e for _, e in data]
        templates = run(messages)
        accuracy, purity = scores(templates, events)
        rows.append((name, system, len(data), len(set(templates)), len(set(events)),
                     accuracy, purity))
    return rows


def throughput(fn: Callable[[str], str], lines: list[str], seconds: float = 2.0) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for line in lines:
            fn(line)
        done += len(lines)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drain3", action="store_true", help="also score Drain3 (pip install drain3)")
    args = parser.parse_args()
    if not LOGHUB.is_dir():
        sys.exit(f"no Loghub samples at {LOGHUB}")
    runs: list[tuple[str, Callable[[list[str]], list[str]]]] = [
        ("mask", lambda ms: [mask(m) for m in ms]),
        ("naive \\d+", lambda ms: [naive_mask(m) for m in ms]),
    ]
    if args.drain3:
        runs.append(("drain3", drain3_templates))
    print("| masker | system | lines | templates | EventIds | grouping acc. | purity |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, run in runs:
        rows = quality(name, run)
        for row in rows:
            print("| {} | {} | {} | {} | {} | {:.3f} | {:.3f} |".format(*row))
        n = len(rows)
        print("| **{}** | **average** | | | | **{:.3f}** | **{:.3f}** |".format(
            name, sum(r[5] for r in rows) / n, sum(r[6] for r in rows) / n))
    lines = [m for system in SYSTEMS for m, _ in load(system)]
    ours, naive = throughput(mask, lines), throughput(naive_mask, lines)
    print(f"\nthroughput, one core, {len(lines)} Loghub lines repeated for 2 s each:")
    print(f"  mask      {ours:>10,.0f} lines/s")
    print(f"  naive \\d+ {naive:>10,.0f} lines/s   (mask is {ours / naive:.2f}x the naive speed)")


if __name__ == "__main__":
    main()
