"""Template masker: grouping quality on Loghub and single-core throughput, beside baselines.

Run from the repo root:  .venv/bin/python benchmarks/bench_masker.py [--drain3]
(--drain3 needs ``pip install --no-deps drain3==0.9.11 jsonpickle``: drain3 pins an old
cachetools that the service cannot run with, so it is never a dependency of the project.)

Per Loghub system: lines, distinct templates, ground-truth EventIds, grouping accuracy (share of
lines whose template group has exactly the members of their EventId group) and purity (share of
lines whose template group is dominated by their own EventId).

Held out: ``processors.templates.RULES`` records, for each rule added since the first release,
the Loghub systems looked at while writing it. A system's held-out score is that of ``mask``
with those rules switched off (``masker_without``): the rules it helped shape cannot help it.
The folds (2-3 systems each) are the ones held out in turn while developing.

Throughput is lines per CPU second of this process on one core, over every Loghub line, timed
in alternating rounds with the masker before this work (read from git at ``--before``), a
one-regex digit masker (the naive baseline) and, with --drain3, Drain3 — so machine noise hits
all of them; the best round of each is reported.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from processors.templates import RULES, mask, masker_without  # noqa: E402

LOGHUB = ROOT / ".." / "shared" / "data" / "loghub"
SYSTEMS = ("Apache", "BGL", "HDFS", "Linux", "OpenSSH", "OpenStack", "Spark", "Zookeeper")
FOLDS = (("Apache", "Linux", "Spark"), ("BGL", "OpenSSH", "Zookeeper"), ("HDFS", "OpenStack"))
BEFORE = "193e7f7"  # the last commit with the masker as it was before issue 14
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


def before_mask(revision: str) -> Callable[[str], str] | None:
    """``mask`` as it was at ``revision`` (from git), or None when git cannot give it."""
    try:
        source = subprocess.run(
            ["git", "show", f"{revision}:processors/templates.py"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("templates_before", f.name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.mask


def held_out(system: str) -> Callable[[str], str]:
    """``mask`` without the rules written while looking at ``system``."""
    return masker_without([name for name, (_, seen) in RULES.items() if system in seen])


def best_rate(fn: Callable[[str], str], lines: list[str]) -> float:
    """Lines per CPU second of one round of ``fn`` over ``lines``.

    CPU time of this process, not wall time: on a shared machine the wall clock also counts
    the time other processes hold the core, which is not the masker's cost.
    """
    start = time.process_time()
    for line in lines:
        fn(line)
    return len(lines) / max(time.process_time() - start, 1e-9)


def drain3_rate(lines: list[str]) -> float:
    start = time.process_time()
    drain3_templates(lines)
    return len(lines) / max(time.process_time() - start, 1e-9)


def throughput(
    maskers: dict[str, Callable[[str], str]], lines: list[str], drain3: bool, rounds: int = 7
) -> dict[str, float]:
    """Best-round lines/s of each masker (and Drain3), measured in alternating rounds."""
    best = dict.fromkeys([*maskers, *(["drain3"] if drain3 else [])], 0.0)
    for _ in range(rounds):
        for name, fn in maskers.items():
            best[name] = max(best[name], best_rate(fn, lines))
        if drain3:
            best["drain3"] = max(best["drain3"], drain3_rate(lines))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drain3", action="store_true", help="also score Drain3 (see above)")
    parser.add_argument("--before", default=BEFORE, help="git revision of the old masker")
    args = parser.parse_args()
    if not LOGHUB.is_dir():
        sys.exit(f"no Loghub samples at {LOGHUB}")
    before = before_mask(args.before)
    runs: list[tuple[str, Callable[[list[str]], list[str]]]] = [
        ("mask", lambda ms: [mask(m) for m in ms]),
    ]
    if before is not None:
        runs.append((f"mask@{args.before}", lambda ms: [before(m) for m in ms]))
    runs.append(("naive \\d+", lambda ms: [naive_mask(m) for m in ms]))
    if args.drain3:
        runs.append(("drain3", drain3_templates))
    print("| masker | system | lines | templates | EventIds | templates/EventIds "
          "| grouping acc. | purity |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, run in runs:
        rows = quality(name, run)
        for row in rows:
            print("| {} | {} | {} | {} | {} | {:.2f} | {:.3f} | {:.3f} |".format(
                *row[:5], row[3] / row[4], *row[5:]))
        accuracy = sum(r[5] for r in rows) / len(rows)
        purity = sum(r[6] for r in rows) / len(rows)
        print(f"| **{name}** | **average** | | | | | **{accuracy:.3f}** | **{purity:.3f}** |")

    print("\nheld out (each system scored without the rules written while looking at it):")
    print("| fold | system | rules off | grouping acc. | purity |")
    print("|---|---|---|---:|---:|")
    held: dict[str, float] = {}
    for i, fold in enumerate(FOLDS, 1):
        for system in fold:
            off = [name for name, (_, seen) in RULES.items() if system in seen]
            data = load(system)
            masker = held_out(system)
            accuracy, purity = scores([masker(m) for m, _ in data], [e for _, e in data])
            held[system] = accuracy
            print(f"| {i} | {system} | {', '.join(off) or '-'} | {accuracy:.3f} | {purity:.3f} |")
        fold_mean = sum(held[s] for s in fold) / len(fold)
        print(f"| {i} | **fold average** | | **{fold_mean:.3f}** | |")
    print(f"| | **all, held out** | | **{sum(held.values()) / len(held):.3f}** "
          f"(min {min(held.values()):.3f}) | |")

    lines = [m for system in SYSTEMS for m, _ in load(system)]
    maskers: dict[str, Callable[[str], str]] = {"mask": mask}
    if before is not None:
        maskers[f"mask@{args.before}"] = before
    maskers["naive \\d+"] = naive_mask
    rates = throughput(maskers, lines, args.drain3)
    print(f"\nthroughput (CPU time), {len(lines)} Loghub lines, best of 7 alternating rounds:")
    for name, rate in rates.items():
        print(f"  {name:<16} {rate:>10,.0f} lines/s   ({rate / rates['mask']:.2f}x mask's rate)")


if __name__ == "__main__":
    main()
