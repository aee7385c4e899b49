"""Mixed batches for the load test, and the check of each answer against what was sent.

A batch of ``size`` lines mixes: regex lines (label known), lines of a fixed pool of
realistic templates with fresh numbers (BERT route; cache hits once warm), exact repeats
within the batch, brand-new BERT lines and brand-new ``LegacyCRM`` lines (LLM route) whose
*words* are fresh, so they miss every cache. Every verdict carries its line's template,
and the client masks each line itself, so a result on the wrong line is a template
mismatch: that is how order is checked. Pool lines are also checked against the label a
single-line request gave during warm-up.
"""

from __future__ import annotations

import random
import string
from collections import Counter
from dataclasses import dataclass, field

from processors.records import UNCLASSIFIED
from processors.synthetic import generate
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from processors.templates import mask

LLM_SOURCE = "LegacyCRM"
LABELS = frozenset(Taxonomy.load(DEFAULT_TAXONOMY_PATH).label_names) | {UNCLASSIFIED}
REGEX_LINES = (
    ("User User{n} logged in.", "User Action"),
    ("Backup completed successfully.", "System Notification"),
    ("System reboot initiated by user admin{n}.", "System Notification"),
    ("Account with ID {n} created by User{n}.", "User Action"),
)
# share of a batch: regex, pool (templated), repeat, fresh BERT, fresh LLM
MIX = (0.35, 0.35, 0.15, 0.10, 0.05)
FRESH_BERT = ("Worker {w} failed to reach the {v} service", "Cache {w} evicted stale {v} entries")
FRESH_LLM = (
    "Case escalation for ticket {w} failed at step {v}",
    "Sync of {w} records to {v} stalled",
)


@dataclass(frozen=True)
class Sent:
    source: str
    message: str
    kind: str  # regex | pool | repeat | bert | llm
    expected: str | None = None  # the label, where known before the answer


@dataclass
class Tally:
    """What the checks found over many answers; ``bad`` lists the first few problems."""

    lines: int = 0
    lost: int = 0  # lines sent minus results received
    misplaced: int = 0  # results whose template is not their line's
    invalid_label: int = 0
    wrong_label: int = 0  # a known label (regex rule, pool reference) not given
    reasons: Counter[str] = field(default_factory=Counter)
    tiers: Counter[str] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)

    def note(self, problem: str) -> None:
        if len(self.bad) < 10:
            self.bad.append(problem)


class Mixer:
    """Builds batches; deterministic for a seed. ``pool`` references come from warm-up."""

    def __init__(self, seed: int = 0, pool_size: int = 200) -> None:
        self.rng = random.Random(seed)
        self.pool = [(src, msg) for src, msg, _ in generate(pool_size, seed=seed)]
        self.reference: dict[str, str] = {}  # pool template -> label of a single-line request

    def word(self) -> str:
        return "".join(self.rng.choices(string.ascii_lowercase, k=7))

    def batch(self, size: int) -> list[Sent]:
        counts = [int(size * share) for share in MIX]
        counts[1] += size - sum(counts)
        regex, pool, repeat, bert, llm = counts
        lines: list[Sent] = []
        for _ in range(regex):
            text, label = self.rng.choice(REGEX_LINES)
            lines.append(
                Sent("ModernCRM", text.format(n=self.rng.randint(1, 99999)), "regex", label)
            )
        for _ in range(pool):
            source, message = self.rng.choice(self.pool)
            renumbered = "".join(
                str(self.rng.randint(0, 9)) if ch.isdigit() else ch for ch in message
            )
            lines.append(Sent(source, renumbered, "pool", self.reference.get(mask(renumbered))))
        for _ in range(bert):
            text = self.rng.choice(FRESH_BERT).format(w=self.word(), v=self.word())
            lines.append(Sent("ModernCRM", text, "bert"))
        for _ in range(llm):
            text = self.rng.choice(FRESH_LLM).format(w=self.word(), v=self.word())
            lines.append(Sent(LLM_SOURCE, text, "llm"))
        for _ in range(repeat):
            lines.append(self.rng.choice(lines))
        self.rng.shuffle(lines)
        return lines


def body(lines: list[Sent]) -> dict[str, object]:
    return {"logs": [{"source": s.source, "log_message": s.message} for s in lines]}


def check(sent: list[Sent], results: list[dict[str, object]], tally: Tally) -> None:
    """Count in = count out, each result on its own line, labels valid and as expected."""
    tally.lines += len(sent)
    if len(results) != len(sent):
        tally.lost += max(0, len(sent) - len(results))
        tally.note(f"{len(sent)} lines sent, {len(results)} results")
    for line, result in zip(sent, results, strict=False):
        label, template = result["label"], result["template"]
        tally.tiers[str(result["tier"])] += 1
        if result.get("reason"):
            tally.reasons[str(result["reason"])] += 1
        if template != mask(line.message):
            tally.misplaced += 1
            tally.note(f"result for {template!r} on the line {line.message!r}")
        if label not in LABELS:
            tally.invalid_label += 1
            tally.note(f"label {label!r} is not in the taxonomy")
        elif line.expected is not None and label != line.expected:
            tally.wrong_label += 1
            tally.note(f"{line.kind} line {line.message!r}: {label!r}, expected {line.expected!r}")
