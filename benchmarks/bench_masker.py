"""Template masker: grouping quality on Loghub and single-core throughput, beside baselines.

Run from the repo root:  .venv/bin/python benchmarks/bench_masker.py [--drain3]
(--drain3 needs ``pip install --no-deps drain3==0.9.11 jsonpickle``: drain3 pins an old
cachetools that the service cannot run with, so it is never a dependency of the project.)

Per Loghub system: lines, distinct templates, ground-truth EventIds, grouping accuracy (share of
lines whose template group has exactly the members of their EventId group) and purity (share of
lines whose template group is dominated by their own EventId). Throughput is `mask` over every
Loghub line on one core, in CPU seconds of this process, timed in alternating rounds with a
one-regex digit masker (the naive baseline) so machine noise hits both; the best round of each
is reported, and their ratio.
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
    """Drain3 with its default settings; a cluster keeps its id as its template widens."""
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


def best_rate(fn: Callable[[str], str], lines: list[str]) -> float:
    """Lines per CPU second of one round of ``fn`` over ``lines``.

    CPU time of this process, not wall time: on a shared machine the wall clock also counts
    the time other processes hold the core, which is not the masker's cost.
    """
    start = time.process_time()
    for line in lines:
        fn(line)
    return len(lines) / max(time.process_time() - start, 1e-9)


def throughput(lines: list[str], rounds: int = 7) -> tuple[float, float]:
    """Best-round lines/s of (mask, naive_mask), measured in alternating rounds."""
    ours = naive = 0.0
    for _ in range(rounds):
        ours = max(ours, best_rate(mask, lines))
        naive = max(naive, best_rate(naive_mask, lines))
    return ours, naive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drain3", action="store_true", help="also score Drain3 (see above)")
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
        accuracy = sum(r[5] for r in rows) / len(rows)
        purity = sum(r[6] for r in rows) / len(rows)
        print(f"| **{name}** | **average** | | | | **{accuracy:.3f}** | **{purity:.3f}** |")
    lines = [m for system in SYSTEMS for m, _ in load(system)]
    ours, naive = throughput(lines)
    print(f"\nthroughput (CPU time), {len(lines)} Loghub lines, best of 7 alternating rounds:")
    print(f"  mask      {ours:>10,.0f} lines/s")
    print(f"  naive \\d+ {naive:>10,.0f} lines/s   (mask costs {naive / ours:.1f}x the naive time)")


if __name__ == "__main__":
    main()
