"""Properties of ``Classifier.classify`` for any batch of any text: one verdict per line, in
input order, each the verdict the line gets on its own; labels always from the taxonomy.

The model tiers are scripted (a label is a pure function of the template), so a verdict
that lands on the wrong line is caught: its template, or its label, would differ.
"""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.pipeline import Classifier
from processors.records import UNCLASSIFIED, LogRecord
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from processors.templates import mask
from tests.hardening.conftest import ScriptedTier

TAXONOMY = Taxonomy.load(DEFAULT_TAXONOMY_PATH)
LABELS = set(TAXONOMY.label_names) | {UNCLASSIFIED}
MAX_CHARS = 64

# Lines that hit a regex rule, lines with numbers (templates shared), and anything at all.
RULE_LINES = st.sampled_from(
    ["User User12 logged in.", "Backup completed successfully.", "System reboot initiated by "
     "user admin.", "Backup started at 2025-01-02 10:00:00."]
)  # fmt: skip
TEMPLATED = st.builds(
    "Job {} failed after {} retries on node-{}".format,
    st.integers(0, 999), st.integers(0, 9), st.integers(0, 99),
)  # fmt: skip
ANY_TEXT = st.text(max_size=MAX_CHARS * 2)  # any code point, surrogates, controls, over-long
SOURCES = st.sampled_from(["", "ModernCRM", "LegacyCRM", "BillingSystem", "\x00", "ü" * 300])
RECORDS = st.builds(LogRecord, SOURCES, st.one_of(RULE_LINES, TEMPLATED, ANY_TEXT))


def classifier() -> Classifier:
    labels = TAXONOMY.label_names
    tiers = {"bert": ScriptedTier("bert", labels), "llm": ScriptedTier("llm", labels[::-1])}
    return Classifier(TAXONOMY, tiers, cache=None, max_line_chars=MAX_CHARS)


def without_cached(verdicts):
    return [(v.label, v.confidence, v.tier, v.template, v.reason) for v in verdicts]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RECORDS, max_size=40))
def test_batch_keeps_length_and_order_and_each_line_gets_its_own_verdict(records):
    async def run():
        batch = await classifier().classify(records)
        alone = [(await classifier().classify([r]))[0] for r in records]
        return batch, alone

    batch, alone = asyncio.run(run())
    assert len(batch) == len(records)
    assert without_cached(batch) == without_cached(alone)
    for record, verdict in zip(records, batch, strict=True):
        assert verdict.label in LABELS
        message = record.message[:MAX_CHARS]
        if message.strip():
            assert verdict.template == mask(message)
        if len(record.message) > MAX_CHARS and verdict.reason is None:
            raise AssertionError(f"an over-long line was not flagged: {verdict}")


@settings(max_examples=60, deadline=None)
@given(st.lists(RECORDS, min_size=1, max_size=20), st.integers(2, 4))
def test_duplicates_and_concurrent_batches_get_identical_answers(records, copies):
    batch = records * copies  # the same lines again, in the same request and across requests

    async def run():
        shared = classifier()
        return await asyncio.gather(*(shared.classify(batch) for _ in range(copies)))

    results = asyncio.run(run())
    first = without_cached(results[0])
    assert all(without_cached(other) == first for other in results[1:])
    assert first == without_cached(results[0][: len(records)]) * copies
