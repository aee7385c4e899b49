"""The labelled corpus the default head learns from, each line tagged with its system.

Three sources, so that the default model has seen both application phrasings and real
infrastructure logs:

* **synthetic** — :mod:`processors.synthetic` phrasings (all nine labels, many formats);
* **loghub** — the public Loghub 2k samples, labelled per template: the labels live in
  ``datasets/loghub_labels/<System>.csv`` keyed by ``EventId`` (never the log text); the
  lines are read from the samples' ``*_structured.csv`` when that folder is present;
* **real** — ``datasets/real/real_logs.csv``: one line per template, captured from real
  servers run on loopback by ``datasets/real/collect.sh``.

The ``system`` of a line is what leave-one-system-out holds out: ``synthetic`` (or
``synthetic-test``, lines of the held-out phrasings), the Loghub system name, or
``real:<program>``. Templates marked ``ambiguous`` in a label file are left
out, as the labelling guide asks.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from processors import synthetic

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS_DIR = REPO_ROOT / "datasets"
LOGHUB_LABELS_DIR = DATASETS_DIR / "loghub_labels"
REAL_LOGS_PATH = DATASETS_DIR / "real" / "real_logs.csv"
DEFAULT_LOGHUB_DIR = REPO_ROOT.parent / "shared" / "data" / "loghub"
AMBIGUOUS = "ambiguous"
SYNTHETIC_TEST = "synthetic-test"
SYNTHETIC_LINES = 4500

# Loghub systems that log through the same programs as our captured real logs: holding one
# out must hold these out too, or the score would count a program it has already seen.
RELATED_REAL_PROGRAMS: dict[str, frozenset[str]] = {
    "OpenSSH": frozenset({"sshd"}),
    "Linux": frozenset({"sshd", "cron", "su", "runuser", "vsftpd"}),
}


@dataclass(frozen=True, slots=True)
class CorpusLine:
    system: str
    source: str
    message: str
    label: str


def loghub_systems(labels_dir: Path = LOGHUB_LABELS_DIR) -> list[str]:
    """The Loghub systems that have a label file, sorted."""
    return sorted(p.stem for p in labels_dir.glob("*.csv"))


def read_event_labels(path: Path) -> dict[str, str]:
    """``EventId -> label`` of one label file, ambiguous templates included."""
    with path.open(newline="", encoding="utf-8") as f:
        return {row["event_id"].strip(): row["label"].strip() for row in csv.DictReader(f)}


def loghub_lines(system: str, loghub_dir: Path = DEFAULT_LOGHUB_DIR,
                 labels_dir: Path = LOGHUB_LABELS_DIR) -> list[CorpusLine]:
    """Every line of one Loghub sample whose template has a (non-ambiguous) label."""
    labels = read_event_labels(labels_dir / f"{system}.csv")
    structured = loghub_dir / f"{system}_2k.log_structured.csv"
    with structured.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    unlabelled = {row["EventId"] for row in rows} - labels.keys()
    if unlabelled:
        raise ValueError(f"{labels_dir / system}.csv: no label for {sorted(unlabelled)[:5]}")
    return [CorpusLine(system, system, row["Content"], labels[row["EventId"]])
            for row in rows if labels[row["EventId"]] != AMBIGUOUS]


def real_lines(path: Path = REAL_LOGS_PATH) -> list[CorpusLine]:
    """The captured real-server templates, one line each, system ``real:<program>``."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return [CorpusLine(f"real:{row['source']}", row["source"], row["log_message"],
                           row["target_label"]) for row in csv.DictReader(f)
                if row["target_label"] != AMBIGUOUS]


def synthetic_lines(n: int = SYNTHETIC_LINES) -> list[CorpusLine]:
    """``n`` synthetic lines: 80% from the training phrasings (system ``synthetic``), 20%
    from the held-out ones (system ``synthetic-test``), so that they can be held out too."""
    test_n = round(n * synthetic.TEST_SHARE)
    return [CorpusLine(system, source, message, label)
            for system, part, count, seed in (("synthetic", "train", n - test_n, 0),
                                              (SYNTHETIC_TEST, "test", test_n, 1))
            for source, message, label in synthetic.generate(count, seed, part)]


def load_corpus(loghub_dir: Path | None = DEFAULT_LOGHUB_DIR,
                systems: Iterable[str] | None = None,
                synthetic_n: int = SYNTHETIC_LINES) -> list[CorpusLine]:
    """The whole default corpus; Loghub systems are skipped when their samples are absent."""
    lines = synthetic_lines(synthetic_n) + real_lines()
    if loghub_dir is not None and loghub_dir.is_dir():
        for system in systems or loghub_systems():
            lines += loghub_lines(system, loghub_dir)
    return lines


def system_group(system: str) -> str:
    """``loghub``, ``real`` or ``synthetic``: the kind of data a held-out system is."""
    if system.startswith("real:"):
        return "real"
    return "synthetic" if system.startswith("synthetic") else "loghub"


def held_out_systems(lines: Iterable[CorpusLine], min_real_templates: int = 15) -> list[str]:
    """What leave-one-system-out holds out in turn: every Loghub system, every captured
    program with at least ``min_real_templates`` templates, and the held-out phrasings."""
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.system] = counts.get(line.system, 0) + 1
    loghub = sorted(s for s in counts if system_group(s) == "loghub")
    real = sorted(s for s, n in counts.items()
                  if system_group(s) == "real" and n >= min_real_templates)
    return loghub + real + ([SYNTHETIC_TEST] if SYNTHETIC_TEST in counts else [])


def held_out_split(lines: list[CorpusLine], system: str
                   ) -> tuple[list[CorpusLine], list[CorpusLine]]:
    """(train, test) for holding out ``system`` and the real programs related to it."""
    related = {f"real:{p}" for p in RELATED_REAL_PROGRAMS.get(system, ())}
    test = [line for line in lines if line.system == system]
    train = [line for line in lines if line.system != system and line.system not in related]
    return train, test
