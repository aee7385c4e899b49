"""Operators' corrections: the file they live in, and how the pipeline applies them."""

import os

import pytest
import yaml

from processors.cache import TemplateCache
from processors.corrections import CorrectionError, CorrectionStore
from processors.pipeline import Classifier
from processors.records import LogRecord
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from tests.test_pipeline import KeywordTier

LABELS = Taxonomy.load(DEFAULT_TAXONOMY_PATH).label_names


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_corrections_survive_a_restart_in_a_reviewable_file(tmp_path):
    path = tmp_path / "sub" / "corrections.yaml"
    store = CorrectionStore(path, LABELS)
    store.add("default", "disk <NUM> is slow", "Resource Usage")
    store.add("nginx", "GET <PATH>", "HTTP Status")
    entries = yaml.safe_load(path.read_text())
    assert {(e["route"], e["template"], e["label"]) for e in entries} == {
        ("default", "disk <NUM> is slow", "Resource Usage"),
        ("nginx", "GET <PATH>", "HTTP Status"),
    }
    again = CorrectionStore(path, LABELS)
    assert again.label_for("default", "disk <NUM> is slow") == "Resource Usage"
    assert again.remove("nginx", "GET <PATH>").label == "HTTP Status"
    assert again.remove("nginx", "GET <PATH>") is None
    assert [c.template for c in CorrectionStore(path, LABELS).all()] == ["disk <NUM> is slow"]


def test_a_label_outside_the_taxonomy_is_refused(tmp_path):
    store = CorrectionStore(tmp_path / "c.yaml", LABELS)
    with pytest.raises(CorrectionError, match="not in the taxonomy"):
        store.add("default", "x", "Bogus")
    assert not (tmp_path / "c.yaml").exists()


def test_a_hand_edit_is_picked_up_and_a_broken_one_keeps_the_last_good_set(tmp_path):
    path = tmp_path / "c.yaml"
    clock = Clock()
    store = CorrectionStore(path, LABELS, reload_seconds=1.0, clock=clock)
    assert not store.active()
    path.write_text(yaml.safe_dump([{"route": "default", "template": "t", "label": "Error"}]))
    clock.now += 2
    assert store.active() and store.label_for("default", "t") == "Error"
    path.write_text("- {route: default, template: t, label: Nonsense}\n")
    os.utime(path, ns=(1, 1))  # a different stamp even within the same mtime tick
    clock.now += 2
    assert store.label_for("default", "t") == "Error"
    assert store.health()["status"] == "degraded"
    assert "Nonsense" in store.health()["last_error"]


def test_a_broken_file_is_refused_at_start_up_with_its_name(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("{not: a list}\n")
    with pytest.raises(CorrectionError, match="c.yaml"):
        CorrectionStore(path, LABELS)


async def test_a_correction_wins_over_model_cache_and_regex_and_can_be_undone(tmp_path):
    taxonomy = Taxonomy.load(DEFAULT_TAXONOMY_PATH)
    bert = KeywordTier("bert", {"timeout": "Error"})
    store = CorrectionStore(tmp_path / "c.yaml", LABELS, reload_seconds=0)
    classifier = Classifier(
        taxonomy, {"bert": bert}, TemplateCache(None), corrections=store
    )
    lines = [LogRecord("app", "call 7 timeout"), LogRecord("app", "User User1 logged in.")]
    before = await classifier.classify(lines)
    assert [(v.label, v.tier) for v in before] == [("Error", "bert"), ("User Action", "regex")]
    await classifier.classify(lines)  # now cached
    store.add("default", before[0].template, "Resource Usage")
    store.add("default", before[1].template, "Security Alert")
    after = await classifier.classify(
        [LogRecord("app", "call 9 timeout"), LogRecord("app", "User User2 logged in.")]
    )
    assert [(v.label, v.tier, v.confidence) for v in after] == [
        ("Resource Usage", "override", 1.0),
        ("Security Alert", "override", 1.0),
    ]
    store.remove("default", before[0].template)
    assert (await classifier.classify(lines[:1]))[0].tier == "bert"
    await classifier.aclose()


async def test_template_counts_follow_traffic_with_their_verdicts(tmp_path):
    taxonomy = Taxonomy.load(DEFAULT_TAXONOMY_PATH)
    classifier = Classifier(taxonomy, {"bert": KeywordTier("bert", {"timeout": "Error"})})
    lines = ["call 1 timeout", "call 2 timeout", "User User1 logged in.", "zzz", ""]
    await classifier.classify([LogRecord("app", m) for m in lines])
    top = classifier.template_stats.top()
    assert [(r["template"], r["count"], r["label"], r["tier"]) for r in top] == [
        ("call <NUM> timeout", 2, "Error", "bert"),
        ("User <USER> logged in.", 1, "User Action", "regex"),
        ("zzz", 1, "Unclassified", "none"),
    ]
    low = classifier.template_stats.top(max_confidence=0.5)
    assert [r["template"] for r in low] == ["zzz"]
    await classifier.aclose()


def test_train_learns_from_corrections_and_refuses_a_bad_file_first(tmp_path, capsys):
    from app.cli import main
    from processors import synthetic
    from processors.head import load_head
    from tests.test_training import write_csv

    data = write_csv(tmp_path / "train.csv", synthetic.generate(90, seed=5, part="train"))
    store = CorrectionStore(tmp_path / "corrections.yaml", LABELS)
    store.add("default", "vault seal <NUM> rotated by operator", "Security Alert")
    store.add("default", "quota of tenant <NUM> at <NUM> percent", "Resource Usage")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {route: default, template: t, label: Nonsense}\n")
    args = ["train", "--data", str(data), "--out", str(tmp_path / "head"), "--folds", "1"]
    assert main([*args, "--corrections", str(bad)]) == 2
    assert "Nonsense" in capsys.readouterr().err
    assert main([*args, "--corrections", str(store.path)]) == 0
    metadata = load_head(tmp_path / "head" / "bert_head.npz").metadata
    assert metadata["corrections"] == 2 and metadata["training_lines"] == 92
