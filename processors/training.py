"""Training the BERT head, cross-validating it, and the metrics ``logclass eval`` reports.

Training needs scikit-learn (``pip install 'logclass[train]'``); serving never imports it.
Lines are masked with :func:`processors.templates.mask` before embedding, exactly as the
pipeline does, and folds are grouped by template so that one template never sits in both
the training and the test fold (which would overstate the scores).
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from processors import masking_rules, templates
from processors.head import Head, save_head
from processors.records import UNCLASSIFIED
from processors.templates import mask

REQUIRED_COLUMNS = ("source", "log_message", "target_label")


@dataclass(frozen=True, slots=True)
class LabelledLine:
    source: str
    message: str
    label: str


def read_labelled(path: str | Path) -> list[LabelledLine]:
    """Rows of a ``source,log_message,target_label`` CSV; ValueError names what is wrong."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; need {list(REQUIRED_COLUMNS)}")
        rows = [LabelledLine(r["source"] or "", r["log_message"] or "", (r["target_label"] or "")
                             .strip()) for r in reader]
    empty = [i + 2 for i, row in enumerate(rows) if not row.label]
    if empty:
        raise ValueError(f"{path}: empty target_label on line(s) {empty[:10]}")
    if not rows:
        raise ValueError(f"{path}: no data rows")
    return rows


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def masker_sha256() -> str:
    """Hash of the masker's source (the engine and its rule tables): a head is only valid
    for the masker it was trained with."""
    source = inspect.getsource(templates) + inspect.getsource(masking_rules)
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def embed(encoder: Any, texts: Sequence[str], batch_size: int = 32,
          progress: bool = False) -> np.ndarray:
    """Embeddings of ``texts`` in input order, encoded in length-sorted batches."""
    from tqdm import tqdm

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), encoder.dims), dtype=np.float32)
    bar = tqdm(total=len(texts), desc="embedding", unit="line", file=sys.stderr,
               disable=None if progress else True)  # None: shown on a terminal only
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        out[chunk] = encoder.embed([texts[i] for i in chunk])
        bar.update(len(chunk))
    bar.close()
    return out


class EmbeddingMemo:
    """``embed`` with memory: each distinct text is encoded once however often it is asked
    for (leave-one-system-out asks for the same templates in every fold)."""

    def __init__(self, encoder: Any, progress: bool = False) -> None:
        self.encoder, self.progress = encoder, progress
        self._rows: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self._rows})
        if missing:
            self._rows.update(zip(missing, embed(self.encoder, missing, 64, self.progress),
                                  strict=True))
        if not texts:
            return np.zeros((0, self.encoder.dims), dtype=np.float32)
        return np.stack([self._rows[t] for t in texts])


def fit_head(x: np.ndarray, y: np.ndarray, labels: Sequence[str], c: float = 4.0,
             seed: int = 0, sample_weight: np.ndarray | None = None) -> Head:
    """Multinomial logistic regression on embeddings; ``y`` holds indexes into ``labels``."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise RuntimeError("training needs scikit-learn: pip install 'logclass[train]'") from exc
    model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    model.fit(x, y, sample_weight=sample_weight)
    weights = np.zeros((len(labels), x.shape[1]), dtype=np.float32)
    bias = np.full(len(labels), -1e4, dtype=np.float32)  # a label absent from y never wins
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # binary: sklearn keeps one row, for the positive class
        coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
        intercept = np.array([0.0, intercept[0]])
    weights[model.classes_] = coef
    bias[model.classes_] = intercept
    return Head(weights, bias, tuple(labels))


def cross_validate(x: np.ndarray, y: np.ndarray, groups: Sequence[str], labels: Sequence[str],
                   folds: int = 5, c: float = 4.0, threshold: float = 0.5,
                   seed: int = 0) -> dict[str, Any]:
    """Out-of-fold predictions of a stratified, template-grouped k-fold, and their metrics."""
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    probabilities = np.zeros((len(y), len(labels)), dtype=np.float32)
    for train_idx, test_idx in splitter.split(x, y, groups):
        head = fit_head(x[train_idx], y[train_idx], labels, c, seed)
        probabilities[test_idx] = head.probabilities(x[test_idx])
    predicted = probabilities.argmax(axis=1)
    confident = probabilities.max(axis=1) >= threshold
    report = classification_metrics([labels[i] for i in y], [labels[i] for i in predicted], labels)
    report["folds"] = folds
    report["coverage_at_threshold"] = round(float(confident.mean()), 4)
    report["accuracy_when_confident"] = round(
        float((predicted[confident] == y[confident]).mean()) if confident.any() else 0.0, 4
    )
    return report


def classification_metrics(gold: Sequence[str], predicted: Sequence[str],
                           labels: Iterable[str] | None = None) -> dict[str, Any]:
    """Accuracy, macro-F1 over ``labels`` (default: the gold labels), per-class scores and the
    confusion matrix (rows gold, columns predicted; predictions outside ``labels`` included)."""
    labels = list(labels) if labels is not None else sorted(set(gold))
    columns = labels + sorted(set(predicted) - set(labels))
    index = {label: i for i, label in enumerate(columns)}
    matrix = np.zeros((len(columns), len(columns)), dtype=np.int64)
    for g, p in zip(gold, predicted, strict=True):
        if g not in index:
            index[g] = len(columns)
            columns.append(g)
            matrix = np.pad(matrix, ((0, 1), (0, 1)))
        matrix[index[g], index[p]] += 1
    per_class: dict[str, dict[str, float]] = {}
    for label in labels:
        i = index[label]
        tp = matrix[i, i]
        fp, fn = matrix[:, i].sum() - tp, matrix[i, :].sum() - tp
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(float(precision), 4), "recall": round(float(recall), 4),
            "f1": round(float(f1), 4), "support": int(matrix[i, :].sum()),
        }
    scored = [label for label in labels if per_class[label]["support"]]
    total = len(gold)
    return {
        "lines": total,
        "accuracy": round(float(np.trace(matrix)) / total, 4) if total else 0.0,
        "macro_f1": round(float(np.mean([per_class[lb]["f1"] for lb in scored])), 4)
        if scored else 0.0,
        "macro_f1_labels": scored,
        "per_class": per_class,
        "confusion": {"labels": columns, "matrix": matrix.tolist()},
    }


def training_rows(data: str | Path, labels: Sequence[str] | None = None
                  ) -> tuple[list[LabelledLine], int]:
    """The rows to train on and how many were skipped: ``Unclassified`` rows (what
    ``logclass classify`` writes for lines no tier decided) teach nothing and are left out.
    Raises ValueError naming labels outside ``labels``, before any model is loaded."""
    rows = read_labelled(data)
    kept = [row for row in rows if row.label != UNCLASSIFIED]
    unknown = sorted({row.label for row in kept} - set(labels or ()))
    if labels and unknown:
        raise ValueError(f"{data}: label(s) {unknown} are not in the taxonomy {list(labels)}")
    if not kept:
        raise ValueError(f"{data}: every row is {UNCLASSIFIED}; nothing to train on")
    return kept, len(rows) - len(kept)


def train(data: str | Path, out_dir: str | Path, encoder: Any, folds: int = 5,
          c: float = 4.0, threshold: float = 0.5, seed: int = 0,
          labels: Sequence[str] | None = None, progress: bool = False,
          rows: list[LabelledLine] | None = None, notes: dict[str, Any] | None = None,
          ) -> tuple[Path, dict]:
    """Train on a labelled CSV (or its ``rows`` from :func:`training_rows`), cross-validate,
    write ``bert_head.npz`` + ``.json`` to out_dir."""
    if rows is None:
        rows, _ = training_rows(data, labels)
    labels = list(labels) if labels else sorted({row.label for row in rows})
    masked = [mask(row.message) for row in rows]
    distinct = sorted(set(masked))
    vectors = embed(encoder, distinct, progress=progress)
    position = {template: i for i, template in enumerate(distinct)}
    x = vectors[[position[t] for t in masked]]
    y = np.array([labels.index(row.label) for row in rows])
    metrics = cross_validate(x, y, masked, labels, folds, c, threshold, seed) if folds > 1 else {}
    head = fit_head(x, y, labels, c, seed)
    path = save_head(head, Path(out_dir) / "bert_head.npz", {
        "embedding_model": encoder.model_id,
        "normalized": True,
        "threshold": threshold,
        "regularization_c": c,
        "training_data": Path(data).name,
        "training_data_sha256": file_sha256(data),
        "training_lines": len(rows),
        "training_templates": len(distinct),
        "masker_sha256": masker_sha256(),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": metrics,
        **(notes or {}),
    })
    return path, metrics
