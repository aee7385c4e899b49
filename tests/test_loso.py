"""Leave-one-system-out, calibration and the labelled corpus behind the default head."""

from __future__ import annotations

import csv
import zlib
from pathlib import Path

import numpy as np
import pytest

from processors import corpus
from processors.corpus import CorpusLine, held_out_split, read_event_labels
from processors.loso import (
    Recipe,
    fit_temperature,
    leave_one_system_out,
    report,
    softmax,
    threshold_for_precision,
)
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy

LABELS = ["Error", "System Notification", "User Action"]
WORDS = {"failed": 0, "started": 1, "login": 2}


def keyword_embed(texts) -> np.ndarray:
    """A stand-in encoder: one axis per keyword, plus a little text-seeded noise."""
    rows = []
    for text in texts:
        rng = np.random.default_rng(zlib.crc32(text.encode()))
        row = rng.normal(0, 0.05, 8)
        for word, axis in WORDS.items():
            row[axis] += word in text
        rows.append(row / np.linalg.norm(row))
    return np.array(rows, dtype=np.float32)


def line(system: str, message: str, label: str) -> CorpusLine:
    return CorpusLine(system, system, message, label)


def toy_corpus() -> list[CorpusLine]:
    lines = []
    for system in ("alpha", "beta", "gamma"):
        for i in range(6):
            lines += [line(system, f"{system} job {i} failed", "Error"),
                      line(system, f"{system} worker {i} started", "System Notification"),
                      line(system, f"{system} user login number {i}", "User Action")]
    return lines


def test_holding_out_a_system_also_holds_out_the_real_programs_it_shares():
    lines = [line("OpenSSH", "a", "Error"), line("real:sshd", "b", "Error"),
             line("real:nginx", "c", "Error"), line("synthetic", "d", "Error")]
    train, test = held_out_split(lines, "OpenSSH")
    assert [ln.message for ln in test] == ["a"]
    assert [ln.message for ln in train] == ["c", "d"]  # sshd is OpenSSH's own program


def test_each_fold_predicts_only_its_own_system_with_a_head_that_never_saw_it():
    lines = toy_corpus()
    folds = leave_one_system_out(lines, ["alpha", "beta", "gamma"], LABELS, keyword_embed)
    assert [f.system for f in folds] == ["alpha", "beta", "gamma"]
    assert all(len(f.gold) == 18 and (f.ruled == -1).all() for f in folds)
    summary = report(folds, LABELS)
    assert summary["mean_macro_f1"] == 1.0 and set(summary["systems"]) == {"alpha", "beta",
                                                                           "gamma"}


def test_rules_decide_before_the_head_and_are_reported_apart():
    rules = lambda message, template: "User Action" if "job 0" in message else None  # noqa: E731
    folds = leave_one_system_out(toy_corpus(), ["alpha"], LABELS, keyword_embed, rules=rules)
    assert (folds[0].ruled >= 0).sum() == 1
    summary = report(folds, LABELS)
    assert summary["systems"]["alpha"]["ruled"] == 1
    assert summary["systems"]["alpha"]["head_only_macro_f1"] == 1.0
    assert summary["systems"]["alpha"]["macro_f1"] < 1.0  # the rule was wrong there


def test_temperature_scaling_recovers_the_temperature_that_made_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (4000, 4))
    gold = np.array([rng.choice(4, p=p) for p in softmax(logits, 2.0)])
    assert fit_temperature(logits, gold) == pytest.approx(2.0, rel=0.1)


def test_threshold_is_the_lowest_that_keeps_the_precision():
    confidence = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5])
    correct = np.array([True, True, True, False, True, False])
    assert threshold_for_precision(confidence, correct, 0.75) == 0.6  # 4 of 5 right
    assert threshold_for_precision(confidence, correct, 0.80) == 0.6  # not 0.8: more lines
    assert threshold_for_precision(confidence, correct, 1.0) == 0.8
    assert threshold_for_precision(confidence, np.zeros(6, bool), 0.9) == 1.0


def test_recipe_shifts_the_prior_towards_routine_lines():
    lines = toy_corpus()
    from processors.loso import train_head

    plain = train_head(lines, LABELS, keyword_embed, Recipe(routine_prior=0.0))
    shifted = train_head(lines, LABELS, keyword_embed, Recipe(routine_prior=1.0))
    assert shifted.bias[1] - plain.bias[1] == pytest.approx(1.0, abs=1e-5)


# -- the labelled corpus ----------------------------------------------------------------

def test_loghub_label_files_key_by_event_id_and_use_taxonomy_labels():
    allowed = set(Taxonomy.load(DEFAULT_TAXONOMY_PATH).label_names) | {corpus.AMBIGUOUS}
    systems = corpus.loghub_systems()
    assert systems == ["Apache", "BGL", "HDFS", "Linux", "OpenSSH", "OpenStack", "Spark",
                       "Zookeeper"]
    for system in systems:
        path = corpus.LOGHUB_LABELS_DIR / f"{system}.csv"
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            assert reader.fieldnames == ["event_id", "label", "note"], path
            rows = list(reader)
        assert {row["label"] for row in rows} <= allowed, path
        assert all(row["event_id"].startswith("E") for row in rows), path


@pytest.mark.skipif(not corpus.DEFAULT_LOGHUB_DIR.is_dir(), reason="no Loghub samples")
def test_every_loghub_template_has_a_label_and_ambiguous_ones_are_left_out():
    for system in corpus.loghub_systems():
        with (corpus.DEFAULT_LOGHUB_DIR / f"{system}_2k.log_templates.csv").open() as f:
            events = {row["EventId"] for row in csv.DictReader(f)}
        labels = read_event_labels(corpus.LOGHUB_LABELS_DIR / f"{system}.csv")
        assert set(labels) == events, system
        lines = corpus.loghub_lines(system)
        assert corpus.AMBIGUOUS not in {ln.label for ln in lines}
        assert lines and all(ln.system == system for ln in lines)


def test_synthetic_lines_are_split_into_training_and_held_out_phrasings():
    lines = corpus.synthetic_lines(100)
    systems = [ln.system for ln in lines]
    assert systems.count("synthetic") == 80 and systems.count(corpus.SYNTHETIC_TEST) == 20


def test_real_logs_are_labelled_with_taxonomy_labels():
    allowed = set(Taxonomy.load(DEFAULT_TAXONOMY_PATH).label_names)
    lines = corpus.real_lines()
    assert len(lines) >= 50
    assert {ln.label for ln in lines} <= allowed
    assert all(ln.system == f"real:{ln.source}" for ln in lines)


def test_a_missing_label_is_an_error_that_names_the_events(tmp_path: Path):
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "X.csv").write_text("event_id,label,note\nE1,Error,\n")
    (tmp_path / "X_2k.log_structured.csv").write_text(
        "LineId,Content,EventId,EventTemplate\n1,a,E1,a\n2,b,E2,b\n")
    with pytest.raises(ValueError, match=r"no label for \['E2'\]"):
        corpus.loghub_lines("X", tmp_path, tmp_path / "labels")


def test_held_out_systems_are_loghub_then_big_enough_programs_then_synthetic():
    lines = ([line("real:nginx", f"n{i}", "Error") for i in range(15)]
             + [line("real:su", "s", "Error"), line("BGL", "b", "Error"),
                line("synthetic", "x", "Error"), line(corpus.SYNTHETIC_TEST, "y", "Error")])
    assert corpus.held_out_systems(lines) == ["BGL", "real:nginx", corpus.SYNTHETIC_TEST]


def test_the_headline_mean_is_the_loghub_systems_and_each_kind_has_its_own():
    lines = [CorpusLine(system, system, message, label) for system, message, label in [
        ("HDFS", "job failed", "Error"), ("HDFS", "worker started", "System Notification"),
        ("real:nginx", "job failed", "Error"), ("real:nginx", "login ok", "Error")]]
    lines += toy_corpus()
    folds = leave_one_system_out(lines, ["HDFS", "real:nginx"], LABELS, keyword_embed)
    summary = report(folds, LABELS)
    assert summary["mean_macro_f1"] == summary["systems"]["HDFS"]["macro_f1"] == 1.0
    assert summary["group_mean_macro_f1"] == {"loghub": 1.0, "real": 0.6667}
