"""The pipeline's guarantees: order, count, dedup, tier routing, fault isolation."""

import asyncio
from collections.abc import Sequence

import pytest

from processors.pipeline import Classifier
from processors.records import Decision, LogRecord
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy


class KeywordTier:
    """A model tier that labels templates by keyword and records what it was asked."""

    def __init__(self, name: str, keywords: dict[str, str], delay: float = 0.0) -> None:
        self.name = name
        self.keywords = keywords
        self.delay = delay
        self.calls: list[list[str]] = []

    @property
    def fingerprint(self) -> str:
        return f"{self.name}-v1"

    async def decide(self, templates: Sequence[str]) -> list[Decision]:
        self.calls.append(list(templates))
        await asyncio.sleep(self.delay)
        out = []
        for template in templates:
            label = next((lab for word, lab in self.keywords.items() if word in template), None)
            out.append(Decision(label, 0.9) if label else Decision(None, 0.2, "low_confidence"))
        return out

    def health(self):
        return {"status": "ok"}

    async def aclose(self) -> None:
        pass


class BrokenTier(KeywordTier):
    async def decide(self, templates):
        raise RuntimeError("model exploded")


@pytest.fixture
def taxonomy() -> Taxonomy:
    return Taxonomy.load(DEFAULT_TAXONOMY_PATH)


async def test_batch_keeps_order_and_count_with_duplicates_and_empty_strings(taxonomy):
    bert = KeywordTier("bert", {"timeout": "Error"})
    classifier = Classifier(taxonomy, {"bert": bert})
    lines = ["User User1 logged in.", "", "call 7 timeout", "", "call 8 timeout", "zzz", ""] * 3
    verdicts = await classifier.classify([LogRecord("app", m) for m in lines])
    assert len(verdicts) == len(lines)
    expected = ["User Action", "Unclassified", "Error", "Unclassified", "Error", "Unclassified"]
    assert [v.label for v in verdicts][:6] == expected
    assert [v.tier for v in verdicts][:3] == ["regex", "none", "bert"]
    assert verdicts[2].template == verdicts[4].template == "call <NUM> timeout"
    # each distinct template went to the model once
    assert sorted(bert.calls[0]) == sorted({"call <NUM> timeout", "zzz"})
    assert verdicts[1].reason == "empty_line"


async def test_undecided_lines_get_unclassified_with_the_last_reason(taxonomy):
    classifier = Classifier(taxonomy, {"bert": KeywordTier("bert", {})})
    [verdict] = await classifier.classify([LogRecord("app", "weird thing happened")])
    assert (verdict.label, verdict.tier, verdict.confidence) == ("Unclassified", "none", None)
    assert verdict.reason == "llm_unavailable"  # bert was unsure, no llm tier configured


async def test_route_decides_which_tiers_run(taxonomy):
    bert = KeywordTier("bert", {"escalation": "Error"})
    llm = KeywordTier("llm", {"escalation": "Workflow Error"})
    classifier = Classifier(taxonomy, {"bert": bert, "llm": llm})
    verdicts = await classifier.classify(
        [LogRecord("LegacyCRM", "escalation 4 failed"), LogRecord("web", "escalation 4 failed")]
    )
    assert [(v.label, v.tier) for v in verdicts] == [("Workflow Error", "llm"), ("Error", "bert")]
    assert bert.calls == [["escalation <NUM> failed"]]


async def test_a_failing_tier_leaves_lines_undecided_not_lost(taxonomy):
    classifier = Classifier(taxonomy, {"bert": BrokenTier("bert", {})})
    verdicts = await classifier.classify([LogRecord("a", "x 1"), LogRecord("a", "y")])
    assert [v.reason for v in verdicts] == ["llm_unavailable", "llm_unavailable"]
    assert all(v.label == "Unclassified" for v in verdicts)


async def test_concurrent_requests_share_one_computation_per_template(taxonomy):
    bert = KeywordTier("bert", {"disk": "Resource Usage"}, delay=0.05)
    classifier = Classifier(taxonomy, {"bert": bert})
    batches = [[LogRecord("a", f"disk {i} full")] for i in range(5)]
    results = await asyncio.gather(*(classifier.classify(b) for b in batches))
    assert [r[0].label for r in results] == ["Resource Usage"] * 5
    assert bert.calls == [["disk <NUM> full"]]


async def test_over_long_lines_are_truncated_and_flagged(taxonomy):
    bert = KeywordTier("bert", {"head": "Error"})
    classifier = Classifier(taxonomy, {"bert": bert}, max_line_chars=20)
    [verdict] = await classifier.classify([LogRecord("a", "head " + "word " * 100 + "tail")])
    assert verdict.label == "Error"
    assert verdict.reason == "truncated"
    assert len(verdict.template) <= 20


async def test_regex_runs_on_the_raw_line_before_masking(taxonomy):
    classifier = Classifier(taxonomy)
    [verdict] = await classifier.classify([LogRecord("LegacyCRM", "User User77 logged out.")])
    assert (verdict.label, verdict.tier, verdict.cached) == ("User Action", "regex", False)


async def test_metrics_count_lines_per_deciding_tier_not_templates(taxonomy):
    from monitoring import MetricsRegistry

    registry = MetricsRegistry()
    classifier = Classifier(
        taxonomy, {"bert": KeywordTier("bert", {"disk": "Resource Usage"})}, registry=registry
    )
    lines = ["disk 1 full", "disk 2 full", "User U1 logged in.", "", "odd"]
    await classifier.classify([LogRecord("a", m) for m in lines])
    snapshot = registry.snapshot()
    assert snapshot.counter("lines_classified") == 5
    assert snapshot.counter("lines_decided", tier="bert") == 2  # one template, two lines
    assert snapshot.counter("lines_decided", tier="regex") == 1
    assert snapshot.counter("lines_decided", tier="none") == 2  # the empty line and "odd"


async def test_a_cancelled_request_does_not_cancel_the_answer_others_wait_for(taxonomy):
    """The owner of a shared in-flight template goes away; its waiters get a real label."""
    bert = KeywordTier("bert", {"disk": "Resource Usage"}, delay=0.1)
    classifier = Classifier(taxonomy, {"bert": bert})
    owner = asyncio.create_task(classifier.classify([LogRecord("a", "disk 1 full")]))
    await asyncio.sleep(0.02)  # the owner is inside the tier now
    waiter = asyncio.create_task(classifier.classify([LogRecord("a", "disk 2 full")]))
    await asyncio.sleep(0.02)
    owner.cancel()  # client gone mid-stream, or a shutdown timeout
    [verdict] = await waiter
    assert (verdict.label, verdict.tier, verdict.reason) == ("Resource Usage", "bert", None)
    assert bert.calls == [["disk <NUM> full"]] * 2  # the waiter computed it itself
    with pytest.raises(asyncio.CancelledError):
        await owner


async def test_the_answer_a_cancelled_owner_left_to_its_waiter_reaches_the_cache(taxonomy):
    from processors.cache import TemplateCache

    bert = KeywordTier("bert", {"disk": "Resource Usage"}, delay=0.05)
    classifier = Classifier(taxonomy, {"bert": bert}, cache=TemplateCache(None))
    owner = asyncio.create_task(classifier.classify([LogRecord("a", "disk 1 full")]))
    await asyncio.sleep(0.01)
    waiter = asyncio.create_task(classifier.classify([LogRecord("a", "disk 2 full")]))
    await asyncio.sleep(0.01)
    owner.cancel()
    await waiter
    [verdict] = await classifier.classify([LogRecord("a", "disk 3 full")])
    assert (verdict.label, verdict.cached) == ("Resource Usage", True)
    assert len(bert.calls) == 2  # the cancelled owner's call and the waiter's


async def test_a_cancelled_request_nobody_shares_leaves_no_cancelled_answer_behind(taxonomy):
    bert = KeywordTier("bert", {"disk": "Resource Usage"}, delay=0.05)
    classifier = Classifier(taxonomy, {"bert": bert})
    owner = asyncio.create_task(classifier.classify([LogRecord("a", "disk 1 full")]))
    await asyncio.sleep(0.01)
    owner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await owner
    [verdict] = await classifier.classify([LogRecord("a", "disk 2 full")])
    assert (verdict.label, verdict.reason) == ("Resource Usage", None)


async def test_cache_writes_do_not_wait_behind_the_default_executor(taxonomy):
    """A blocked default executor (e.g. stdout forwarding) must not stall cache misses."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from processors.cache import TemplateCache

    loop = asyncio.get_running_loop()
    shared = ThreadPoolExecutor(max_workers=1)
    loop.set_default_executor(shared)
    stdout_unblocked = threading.Event()
    blocked = loop.run_in_executor(None, stdout_unblocked.wait)  # a stuck pipe
    try:
        classifier = Classifier(
            taxonomy, {"bert": KeywordTier("bert", {"disk": "Resource Usage"})},
            cache=TemplateCache(None),
        )
        verdicts = await asyncio.wait_for(
            classifier.classify([LogRecord("a", "disk 1 full")]), timeout=2.0
        )
        assert verdicts[0].label == "Resource Usage"
        await classifier.aclose()
    finally:
        stdout_unblocked.set()
        await blocked


async def test_a_truncated_line_says_so_even_when_a_tier_gives_its_own_reason(taxonomy):
    bert = KeywordTier("bert", {"timeout": "Error"})
    classifier = Classifier(taxonomy, {"bert": bert}, max_line_chars=16)
    long_unknown, long_known = "zzz " * 10, "call 7 timeout " + "x" * 40
    verdicts = await classifier.classify(
        [LogRecord("app", long_unknown), LogRecord("app", "call 7 timeout"),
         LogRecord("app", long_known)]
    )
    assert [(v.reason, v.truncated) for v in verdicts] == [
        ("llm_unavailable", True), (None, False), ("truncated", True)
    ]
    assert verdicts[0].as_dict()["truncated"] is True
