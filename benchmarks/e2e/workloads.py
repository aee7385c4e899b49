"""The benchmark's workloads: what is posted, in which batches, and (where known) the answer.

- ``loghub``   — the real lines of ``../shared/data/loghub/*_2k.log`` (16,000 lines from 8
                 systems; the source is the system's name), in file order.
- ``mix``      — a labelled, realistic mix from the project's generator
                 (``processors.synthetic``), about 5% of it from ``LegacyCRM`` (the LLM route).
- ``distinct`` — lines that are all different templates: their *words* differ, not only
                 their numbers (numbers are masked), so every line misses the cache.

Every workload is deterministic for a given size and seed, so two configurations in one run
see exactly the same lines.
"""

from __future__ import annotations

import importlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOGHUB = REPO.parent / "shared" / "data" / "loghub"
LLM_SOURCE = "LegacyCRM"
LEGACY_LABELS = ("Workflow Error", "Deprecation Warning")


class WorkloadUnavailable(RuntimeError):
    """The data or generator a workload needs is absent; the message says which."""


@dataclass(frozen=True)
class Line:
    source: str
    message: str
    label: str | None = None  # the expected label, for labelled workloads


@dataclass(frozen=True)
class Workload:
    """Named lines; ``batches`` cuts them into request bodies, in order."""

    name: str
    lines: tuple[Line, ...]
    description: str

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def labelled(self) -> bool:
        return all(line.label is not None for line in self.lines)

    def batches(self, size: int) -> list[tuple[Line, ...]]:
        return [self.lines[i : i + size] for i in range(0, len(self.lines), size)]

    def bodies(self, size: int) -> list[bytes]:
        """The JSON request bodies, encoded once so the load generator only sends bytes."""
        return [encode_batch(batch) for batch in self.batches(size)]

    def subset(self, count: int) -> Workload:
        """``count`` lines taken evenly across the whole workload (every k-th line)."""
        if count >= len(self.lines):
            return self
        step = len(self.lines) / count
        picked = tuple(self.lines[int(i * step)] for i in range(count))
        return Workload(self.name, picked, f"{self.description}; every {step:.0f}th line")


def encode_batch(batch: Sequence[Line]) -> bytes:
    logs = [{"source": line.source, "log_message": line.message} for line in batch]
    return json.dumps({"logs": logs}, ensure_ascii=False).encode("utf-8")


# -- loghub replay ----------------------------------------------------------------------


def loghub(limit_per_system: int | None = None, root: Path = LOGHUB) -> Workload:
    """The raw Loghub lines, system after system (sorted by name), headers included."""
    files = sorted(root.glob("*_2k.log"))
    if not files:
        raise WorkloadUnavailable(f"{root}: no *_2k.log files (the shared Loghub samples)")
    lines: list[Line] = []
    for path in files:
        system = path.name.removesuffix("_2k.log")
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
        lines += [Line(system, raw) for raw in text[:limit_per_system] if raw.strip()]
    return Workload("loghub", tuple(lines), f"{len(files)} Loghub systems, raw lines in order")


# -- labelled mix from the project's generator ------------------------------------------


def mix(count: int, seed: int = 7, llm_share: float = 0.05) -> Workload:
    """``count`` labelled lines from ``processors.synthetic``, ``llm_share`` of them LegacyCRM.

    The generator gives no LegacyCRM source, so, as in the reference data set (where that
    CRM writes workflow errors and deprecation warnings), lines of those two labels are
    re-sourced to LegacyCRM until ``llm_share`` of the mix takes the LLM route.
    """
    try:
        synthetic = importlib.import_module("processors.synthetic")
    except ImportError as exc:
        raise WorkloadUnavailable(f"processors.synthetic is not importable ({exc})") from exc
    rows = [Line(str(s), str(m), str(label)) for s, m, label in synthetic.generate(count, seed)]
    want = round(count * llm_share)
    candidates = [i for i, row in enumerate(rows) if row.label in LEGACY_LABELS]
    if len(candidates) < want:
        raise WorkloadUnavailable(f"only {len(candidates)} lines could come from {LLM_SOURCE}")
    for i in random.Random(seed).sample(candidates, want):
        rows[i] = Line(LLM_SOURCE, rows[i].message, rows[i].label)
    return Workload(
        "mix", tuple(rows), f"processors.synthetic, seed {seed}, {want} lines from {LLM_SOURCE}"
    )


# -- all-distinct templates ---------------------------------------------------------------

_SUBJECTS = (
    "scheduler", "replicator", "gateway", "indexer", "mailer", "billing engine", "auth proxy",
    "report builder", "session store", "search node", "ingest worker", "sync agent", "cron",
    "inventory service", "payment adapter", "ledger", "notifier", "uploader", "renderer",
)
_VERBS = (
    "rejected", "postponed", "rebalanced", "skipped", "archived", "refreshed", "dropped",
    "throttled", "resumed", "abandoned", "merged", "migrated", "quarantined", "rebuilt",
    "flagged", "reordered", "trimmed", "suspended", "restored", "expired", "validated",
)
_OBJECTS = (
    "orchid queue", "lantern handshake", "walnut ledger", "copper snapshot", "amber lease",
    "harbor manifest", "cedar bundle", "velvet token", "granite shard", "meadow backlog",
    "saffron digest", "pepper journal", "willow cursor", "maple roster", "cobalt batch",
    "ember partition", "juniper profile", "marble channel", "tundra mirror", "hazel quota",
)
_REASONS = (
    "after a stale heartbeat", "because the peer was draining", "while the lock was held",
    "during nightly maintenance", "when the upstream stalled", "before the window closed",
    "since the schema drifted", "as the tenant requested", "under memory pressure",
    "following a config reload", "because the retry budget ran out", "on operator request",
)
_WHERE = (
    "north region", "blue cluster", "staging ring", "edge pool", "west zone", "canary lane",
    "primary rack", "overflow tier", "cold store", "hot path", "batch lane", "audit trail",
)


def distinct(count: int, seed: int = 11) -> Workload:
    """``count`` lines whose templates all differ, from word combinations (no digits).

    Uniqueness is by the service's own masker, so the lines are distinct *after* masking.
    """
    from processors.templates import mask

    rng = random.Random(seed)
    seen: set[str] = set()
    lines: list[Line] = []
    parts = (_SUBJECTS, _VERBS, _OBJECTS, _REASONS, _WHERE)
    capacity = 1
    for words in parts:
        capacity *= len(words)
    if count > capacity // 2:
        raise ValueError(f"at most {capacity // 2} distinct lines, asked for {count}")
    while len(lines) < count:
        subject, verb, obj, reason, where = (rng.choice(words) for words in parts)
        message = f"The {subject} {verb} the {obj} {reason} in the {where}"
        template = mask(message)
        if template in seen:
            continue
        seen.add(template)
        lines.append(Line(rng.choice(("ModernCRM", "BillingSystem", "AnalyticsEngine")), message))
    return Workload("distinct", tuple(lines), f"{count} word-distinct templates, seed {seed}")
