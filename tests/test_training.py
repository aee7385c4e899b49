"""Training data, metrics, the train/eval commands, and a train -> eval round trip."""

from __future__ import annotations

import argparse
import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from app.cli_train import add_train_commands, evaluate
from processors import synthetic
from processors.bert import BertTier
from processors.head import load_head
from processors.pipeline import Classifier
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from processors.training import classification_metrics, read_labelled, train
from tests.test_bert import shared_encoder

HANDWRITTEN = Path(__file__).parent / "data" / "handwritten.csv"


def write_csv(path: Path, rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("source", "log_message", "target_label"))
        writer.writerows(rows)
    return path


def test_metrics_match_a_hand_computed_example() -> None:
    gold = ["A", "A", "A", "B", "B", "C"]
    predicted = ["A", "A", "B", "B", "Unclassified", "C"]
    report = classification_metrics(gold, predicted)
    assert report["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert report["per_class"]["A"] == {"precision": 1.0, "recall": 0.6667, "f1": 0.8,
                                        "support": 3}
    assert report["per_class"]["B"]["precision"] == report["per_class"]["B"]["recall"] == 0.5
    assert report["macro_f1"] == pytest.approx((0.8 + 0.5 + 1.0) / 3, abs=1e-4)
    assert report["confusion"]["labels"] == ["A", "B", "C", "Unclassified"]
    assert report["confusion"]["matrix"][1] == [0, 1, 0, 1]


def test_macro_f1_can_be_restricted_to_a_label_subset() -> None:
    report = classification_metrics(["A", "B", "C"], ["A", "B", "A"], labels=["A", "B"])
    assert report["macro_f1_labels"] == ["A", "B"]
    assert report["per_class"]["A"]["precision"] == 0.5


def test_synthetic_lines_are_deterministic_and_balanced() -> None:
    first = list(synthetic.generate(270, seed=3))
    assert first == list(synthetic.generate(270, seed=3))
    assert first != list(synthetic.generate(270, seed=4))
    counts = Counter(label for _, _, label in first)
    assert set(counts) == set(Taxonomy.load(DEFAULT_TAXONOMY_PATH).label_names)
    assert set(counts.values()) == {30}
    # every slot was filled (JSON-wrapped lines and literal braces may still hold "{")
    assert not re.search(r"\{[a-z_0-9]+\}", "".join(line for _, line, _ in first))


def test_every_label_has_at_least_40_phrasings_and_the_test_part_is_unseen() -> None:
    for label, phrasings in synthetic.load_phrasings().items():
        assert len(set(phrasings)) >= 40, label
        train_part = set(synthetic.select_part(phrasings, "train", label))
        test_part = set(synthetic.select_part(phrasings, "test", label))
        assert train_part.isdisjoint(test_part) and train_part | test_part == set(phrasings)


def test_read_labelled_names_the_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("source,message,label\na,b,c\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['log_message', 'target_label'\]"):
        read_labelled(path)


def test_train_and_eval_commands_are_registered() -> None:
    parser = argparse.ArgumentParser(prog="logclass")
    add_train_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["train", "--data", "d.csv", "--out", "o", "--folds", "3"])
    assert args.command == "train" and args.folds == 3 and callable(args.run)
    args = parser.parse_args(["eval", "--data", "d.csv", "--json"])
    assert args.command == "eval" and args.json and callable(args.run)


def test_handwritten_set_is_realistic_sized_and_uses_taxonomy_labels() -> None:
    rows = read_labelled(HANDWRITTEN)
    assert len(rows) >= 100 and len({row.message for row in rows}) == len(rows)
    assert {row.label for row in rows} <= set(Taxonomy.load(DEFAULT_TAXONOMY_PATH).label_names)


@pytest.mark.slow
async def test_train_then_eval_round_trip_on_a_small_generated_set(tmp_path: Path) -> None:
    encoder = shared_encoder()
    taxonomy = Taxonomy.load(DEFAULT_TAXONOMY_PATH)
    # 60 lines a label: synthetic lines come in many real-log formats, so 30 a label left
    # the head unsure of about half the held-out lines
    data = write_csv(tmp_path / "train.csv", synthetic.generate(540, seed=5, part="train"))
    path, cv = train(data, tmp_path / "head", encoder, folds=3, labels=taxonomy.label_names)
    head = load_head(path)
    assert head.labels == taxonomy.label_names and head.dims == 384
    assert head.metadata["training_lines"] == 540 and cv["folds"] == 3
    assert head.metadata["metrics"]["macro_f1"] == cv["macro_f1"] > 0.5

    held_out = write_csv(tmp_path / "test.csv", synthetic.generate(90, seed=6, part="test"))
    tier = BertTier(head_path=path, allowed_labels=taxonomy.label_names, loader=lambda: encoder)
    report = await evaluate(Classifier(taxonomy, {"bert": tier}), read_labelled(held_out))
    assert report["lines"] == 90 and report["tiers"].get("bert", 0) > 45
    assert report["macro_f1"] > 0.5 and report["lines_per_second"] > 0


def test_an_unusable_setting_stops_the_command_naming_the_variable(monkeypatch, capsys) -> None:
    from app.cli import main

    monkeypatch.setenv("LOGCLASS_PORT", "eighty")
    assert main(["serve"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("logclass: LOGCLASS_PORT: Input should be a valid integer")
    assert "Traceback" not in error


def test_classify_output_trains_with_its_unclassified_rows_skipped(tmp_path: Path) -> None:
    from processors.training import training_rows

    data = write_csv(tmp_path / "classified.csv", [
        ("app", "job 1 failed", "Error"), ("app", "odd thing", "Unclassified"),
        ("app", "user bob logged in", "User Action")])
    rows, skipped = training_rows(data, Taxonomy.load(DEFAULT_TAXONOMY_PATH).label_names)
    assert skipped == 1 and [row.label for row in rows] == ["Error", "User Action"]
    bad = write_csv(tmp_path / "bad.csv", [("app", "x", "Nonsense")])
    with pytest.raises(ValueError, match=r"label\(s\) \['Nonsense'\] are not in the taxonomy"):
        training_rows(bad, Taxonomy.load(DEFAULT_TAXONOMY_PATH).label_names)
