"""The BERT head files: round trip, softmax, and refusal of files that cannot be served."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from processors.head import DEFAULT_HEAD_PATH, Head, HeadError, load_head, save_head
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from processors.training import masker_sha256

LABELS = ("Error", "User Action", "HTTP Status")


def make_head(dims: int = 8, labels: tuple[str, ...] = LABELS, seed: int = 0) -> Head:
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(len(labels), dims)).astype(np.float32)
    return Head(weights, rng.normal(size=len(labels)).astype(np.float32), labels)


def test_saved_head_round_trips_with_metadata(tmp_path: Path) -> None:
    head = make_head()
    path = save_head(head, tmp_path / "h.npz", {"embedding_model": "m", "threshold": 0.6})
    loaded = load_head(path)
    assert loaded.labels == LABELS
    np.testing.assert_array_equal(loaded.weights, head.weights)
    np.testing.assert_array_equal(loaded.bias, head.bias)
    assert loaded.digest == head.digest
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["dimensions"] == 8 and meta["labels"] == list(LABELS) and meta["threshold"] == 0.6


def test_probabilities_are_a_softmax_of_the_logits() -> None:
    head = make_head()
    x = np.random.default_rng(1).normal(size=(5, 8)).astype(np.float32)
    p = head.probabilities(x)
    logits = x @ head.weights.T + head.bias
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, expected, rtol=1e-5)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


def test_digest_changes_with_weights_or_label_order() -> None:
    head = make_head()
    assert make_head(seed=1).digest != head.digest
    swapped = Head(head.weights, head.bias, (LABELS[1], LABELS[0], LABELS[2]))
    assert swapped.digest != head.digest


def test_pickle_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"weights": [[1.0]], "bias": [0.0], "labels": ["Error"]}))
    with pytest.raises(HeadError, match="pickle"):
        load_head(path)


def test_npz_with_object_arrays_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    np.savez(path, weights=np.zeros((1, 2)), bias=np.zeros(1),
             labels=np.array([{"label": "Error"}], dtype=object))
    path.with_suffix(".json").write_text("{}")
    with pytest.raises(HeadError, match="pickle"):
        load_head(path)


def test_wrong_dimensions_are_refused_with_a_retrain_hint(tmp_path: Path) -> None:
    with pytest.raises(HeadError, match=r"8-dimensional.*produces 384.*logclass train"):
        make_head(dims=8).validate(dims=384)


def test_labels_outside_the_taxonomy_are_refused_by_name() -> None:
    head = make_head(labels=("Error", "Cosmic Ray"))
    with pytest.raises(HeadError, match="Cosmic Ray"):
        head.validate(allowed_labels=["Error", "HTTP Status"])


def test_missing_metadata_is_refused(tmp_path: Path) -> None:
    path = save_head(make_head(), tmp_path / "h.npz")
    path.with_suffix(".json").unlink()
    with pytest.raises(HeadError, match="metadata file missing"):
        load_head(path)


def test_metadata_that_disagrees_on_labels_is_refused(tmp_path: Path) -> None:
    path = save_head(make_head(), tmp_path / "h.npz")
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["labels"] = ["Error", "HTTP Status", "User Action"]
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(HeadError, match="label list differs"):
        load_head(path)


def test_missing_or_garbage_file_gives_a_head_error(tmp_path: Path) -> None:
    with pytest.raises(HeadError, match="cannot read"):
        load_head(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(HeadError):
        load_head(tmp_path / "junk.npz")


def test_shipped_head_fits_the_default_taxonomy_and_minilm() -> None:
    head = load_head(DEFAULT_HEAD_PATH)
    head.validate(allowed_labels=Taxonomy.load(DEFAULT_TAXONOMY_PATH).label_names, dims=384)
    assert head.metadata["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    report = head.metadata["metrics"]  # leave-one-system-out, from `logclass train --corpus`
    assert set(report["systems"]) >= {"HDFS", "BGL", "OpenStack", "Linux", "OpenSSH", "Apache",
                                      "Spark", "Zookeeper", "synthetic-test"}
    assert report["mean_macro_f1"] >= 0.7 and report["precision_at_threshold"] >= 0.9
    assert head.metadata["threshold"] == report["threshold"]
    assert head.metadata["masker_sha256"] == masker_sha256()  # retrain when the masker changes


def test_a_bare_npy_array_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights.npz"
    with path.open("wb") as f:
        np.save(f, np.zeros((3, 8)))
    with pytest.raises(HeadError, match="not an .npz archive"):
        load_head(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("array", ["weights", "bias"])
def test_a_head_with_non_finite_numbers_is_refused_at_load(
    tmp_path: Path, array: str, bad: float
) -> None:
    head = make_head()
    weights, bias = head.weights.copy(), head.bias.copy()
    (weights if array == "weights" else bias)[1, ...] = bad  # would answer labels[0], NaN
    path = tmp_path / "h.npz"
    np.savez(path, weights=weights, bias=bias, labels=np.array(LABELS, dtype=str))
    path.with_suffix(".json").write_text(json.dumps({"labels": list(LABELS)}))
    with pytest.raises(HeadError, match=rf"h\.npz.*{array}.*not finite.*retrain"):
        load_head(path)
