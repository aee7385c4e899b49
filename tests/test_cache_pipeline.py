"""The cache inside the pipeline: restarts, taxonomy changes, regex lines, a broken disk."""

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from processors.cache import TemplateCache
from processors.pipeline import Classifier
from processors.records import Decision, LogRecord
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy

REPO = Path(__file__).resolve().parents[1]
LINES = [
    "Connection 17 to 10.0.0.5 timed out",
    "Connection 18 to 10.0.0.9 timed out",
    "disk /dev/sda1 failure on node 4",
    "User User12 logged in.",  # decided by the regex tier
]


class FixedTier:
    """A model tier that gives every template the same label and counts what it was asked."""

    name = "bert"

    def __init__(self, label: str, fingerprint: str = "bert-v1") -> None:
        self.label = label
        self._fingerprint = fingerprint
        self.asked: list[str] = []

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    async def decide(self, templates: Sequence[str]) -> list[Decision]:
        self.asked.extend(templates)
        return [Decision(self.label, 0.8) for _ in templates]

    def health(self):
        return {"status": "ok"}

    async def aclose(self) -> None:
        pass


def records(lines=LINES) -> list[LogRecord]:
    return [LogRecord("app", line) for line in lines]


async def test_a_warm_batch_is_served_from_the_cache_without_asking_the_model(tmp_path):
    tier = FixedTier("Error")
    classifier = Classifier(
        Taxonomy.load(DEFAULT_TAXONOMY_PATH), {"bert": tier}, cache=TemplateCache(tmp_path)
    )
    first = await classifier.classify(records())
    asked = len(tier.asked)
    second = await classifier.classify(records())
    assert len(tier.asked) == asked == 2  # two distinct templates, asked once
    assert [v.label for v in second] == [v.label for v in first]
    assert [v.cached for v in second] == [True, True, True, False]  # regex is never cached
    assert [v.tier for v in second] == ["bert", "bert", "bert", "regex"]


async def test_regex_verdicts_never_reach_the_cache(tmp_path):
    cache = TemplateCache(tmp_path)
    classifier = Classifier(
        Taxonomy.load(DEFAULT_TAXONOMY_PATH), {"bert": FixedTier("Error")}, cache=cache
    )
    await classifier.classify(records(["User User1 logged in.", "Backup completed successfully."]))
    stats = cache.stats()
    assert (stats["l1"]["size"], stats["l2"]["size"]) == (0, 0)


async def test_a_changed_taxonomy_misses_instead_of_serving_the_old_label(tmp_path):
    text = DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8")
    old_file, new_file = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old_file.write_text(text, encoding="utf-8")
    new_file.write_text(text.replace("(timeouts,", "(time-outs,"), encoding="utf-8")
    assert new_file.read_text(encoding="utf-8") != text
    cache_dir = tmp_path / "cache"
    old_tier, new_tier = FixedTier("Error"), FixedTier("Critical Error")  # same fingerprint
    old = Classifier(Taxonomy.load(old_file), {"bert": old_tier}, cache=TemplateCache(cache_dir))
    new = Classifier(Taxonomy.load(new_file), {"bert": new_tier}, cache=TemplateCache(cache_dir))

    await old.classify(records())
    verdicts = await new.classify(records())
    assert [(v.label, v.cached) for v in verdicts[:3]] == [("Critical Error", False)] * 3
    assert len(new_tier.asked) == 2
    again = await old.classify(records())  # the old taxonomy's answers are still its own
    assert [(v.label, v.cached) for v in again[:3]] == [("Error", True)] * 3


async def test_a_changed_model_fingerprint_misses_too(tmp_path):
    taxonomy = Taxonomy.load(DEFAULT_TAXONOMY_PATH)
    v1 = Classifier(
        taxonomy, {"bert": FixedTier("Error", "head-v1")}, cache=TemplateCache(tmp_path)
    )
    await v1.classify(records())
    v2_tier = FixedTier("Critical Error", "head-v2")
    v2 = Classifier(taxonomy, {"bert": v2_tier}, cache=TemplateCache(tmp_path))
    verdicts = await v2.classify(records())
    assert {v.label for v in verdicts[:3]} == {"Critical Error"}
    assert not any(v.cached for v in verdicts)


async def test_a_broken_disk_never_fails_classification(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("not a directory")
    tier = FixedTier("Error")
    cache = TemplateCache(blocker)
    classifier = Classifier(Taxonomy.load(DEFAULT_TAXONOMY_PATH), {"bert": tier}, cache=cache)
    await classifier.classify(records())
    verdicts = await classifier.classify(records())
    assert [v.cached for v in verdicts] == [True, True, True, False]  # from memory
    assert cache.health()["status"] == "degraded"


RUN_ONCE = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[3])
from tests.test_cache_pipeline import LINES, FixedTier, records
from processors.cache import TemplateCache
from processors.pipeline import Classifier
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy

async def main():
    tier = FixedTier(sys.argv[2])
    cache = TemplateCache(sys.argv[1])
    classifier = Classifier(Taxonomy.load(DEFAULT_TAXONOMY_PATH), {"bert": tier}, cache=cache)
    verdicts = await classifier.classify(records())
    cache.close()
    print(json.dumps({"asked": len(tier.asked), "verdicts": [v.as_dict() for v in verdicts]}))

asyncio.run(main())
"""


def run_in_new_process(cache_dir: Path, label: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", RUN_ONCE, str(cache_dir), label, str(REPO)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.e2e
def test_a_restarted_process_serves_from_the_disk_cache(tmp_path):
    first = run_in_new_process(tmp_path, "Error")
    second = run_in_new_process(tmp_path, "Critical Error")  # would differ if asked
    assert first["asked"] == 2 and second["asked"] == 0
    assert [v["label"] for v in second["verdicts"]] == [v["label"] for v in first["verdicts"]]
    assert [v["cached"] for v in second["verdicts"]] == [True, True, True, False]
    assert second["verdicts"][0]["confidence"] == 0.8


TEMPLATE_RULES = """
labels: [{name: Security Alert}, {name: Error}, {name: User Action}]
rules:
  - {pattern: '^User \\w+ logged in$', label: User Action}
  - {pattern: 'Failed password for ', label: Security Alert, match: template}
"""


async def test_template_rules_decide_a_new_template_once_and_are_cached(tmp_path):
    tier = FixedTier("Error")
    classifier = Classifier(Taxonomy.parse(TEMPLATE_RULES), {"bert": tier},
                            cache=TemplateCache(tmp_path))
    lines = ["Failed password for root from 10.0.0.1 port 22", "User bob logged in",
             "Failed password for admin from 10.0.0.2 port 23", "disk 4 on fire"]
    first = await classifier.classify(records(lines))
    assert [(v.label, v.tier, v.cached) for v in first] == [
        ("Security Alert", "regex", False), ("User Action", "regex", False),
        ("Security Alert", "regex", False), ("Error", "bert", False)]
    assert tier.asked == ["disk <NUM> on fire"]  # the model never saw the ruled template
    second = await classifier.classify(records(lines))
    assert [(v.label, v.tier, v.cached) for v in second] == [
        ("Security Alert", "regex", True), ("User Action", "regex", False),
        ("Security Alert", "regex", True), ("Error", "bert", True)]
    assert first[0].template == "Failed password for <USER> from <IP> port <NUM>"
