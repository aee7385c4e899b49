"""Head-training variants compared by leave-one-system-out over the built-in corpus.

Run from the repo root:  .venv/bin/python benchmarks/bench_labels.py [--markdown]
(needs the Loghub samples in ../shared/data/loghub and scikit-learn; 15-20 minutes on two
cores, half of it the MLP.)

Every variant is scored the way ``logclass eval --leave-one-system-out`` scores the shipped
recipe: for each Loghub system and ``synthetic-test``, train on the rest of the corpus
(:func:`processors.corpus.held_out_split`), predict every held-out line, the taxonomy rules
first where the variant uses them. Columns: macro-F1 per held-out system, their mean and
minimum, macro-F1 of all held-out lines pooled, and, after temperature scaling on the
out-of-fold scores, the threshold that keeps precision >= 0.90 with its coverage and
precision. Every distinct template is embedded once, by one memo shared by all variants.
Variants that are not a logistic-regression head report log-probabilities as ``logits``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cli_train import _taxonomy_rules  # noqa: E402
from app.settings import Settings  # noqa: E402
from processors.corpus import (  # noqa: E402
    DEFAULT_LOGHUB_DIR,
    SYNTHETIC_TEST,
    CorpusLine,
    held_out_split,
    load_corpus,
    loghub_systems,
)
from processors.loso import (  # noqa: E402
    HeldOut,
    Recipe,
    Rules,
    fit_temperature,
    leave_one_system_out,
    pooled_logits,
    report,
    softmax,
    template_rows,
)
from processors.templates import mask  # noqa: E402
from processors.training import EmbeddingMemo, fit_head  # noqa: E402

Scorer = Callable[[np.ndarray], np.ndarray]  # embeddings -> logits or log-probabilities
Fit = Callable[[list[CorpusLine]], Scorer]  # training lines of one fold -> its scorer
LOG_FLOOR = 1e-12


@dataclass
class Bench:
    lines: list[CorpusLine]
    systems: list[str]
    labels: list[str]
    embed: EmbeddingMemo
    rules: Rules
    _default: list[HeldOut] = field(default_factory=list)

    def default_folds(self) -> list[HeldOut]:
        """The shipped recipe's folds, computed once (three variants start from them)."""
        if not self._default:
            self._default = self.recipe(Recipe())
        return self._default

    def recipe(self, recipe: Recipe, rules: bool = True) -> list[HeldOut]:
        return leave_one_system_out(self.lines, self.systems, self.labels, self.embed, recipe,
                                    self.rules if rules else None)

    def custom(self, fit: Fit, rules: bool = True) -> list[HeldOut]:
        """Leave-one-system-out with any predictor, as ``leave_one_system_out`` does it."""
        folds = []
        for system in self.systems:
            train, test = held_out_split(self.lines, system)
            templates = [mask(line.message) for line in test]
            ruled = [self.rules(line.message, t) if rules else None
                     for line, t in zip(test, templates, strict=True)]
            folds.append(HeldOut(system, fit(train)(self.embed(templates)),
                                 np.array([-1 if r is None else self.labels.index(r)
                                           for r in ruled]),
                                 np.array([self.labels.index(line.label) for line in test])))
        return folds

    def rows(self, train: Sequence[CorpusLine], recipe: Recipe
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Embeddings, label indexes and sample weights of the distinct training templates."""
        templates, y, synthetic = template_rows(train, self.labels)
        return self.embed(templates), y, np.where(synthetic, 1.0, recipe.real_weight)

    def prior(self, recipe: Recipe) -> np.ndarray:
        """The routine prior as ``train_head`` adds it to the bias."""
        shift = np.zeros(len(self.labels))
        if recipe.routine_label in self.labels:
            shift[self.labels.index(recipe.routine_label)] = recipe.routine_prior
        return shift


def full_columns(scores: np.ndarray, classes: np.ndarray, n: int, fill: float) -> np.ndarray:
    """``scores`` over the classes a model saw, spread over all ``n`` labels."""
    out = np.full((len(scores), n), fill)
    out[:, classes] = scores
    return out


def synthetic_only(b: Bench) -> list[HeldOut]:
    def fit(train: list[CorpusLine]) -> Scorer:
        x, y, _ = b.rows([ln for ln in train if ln.system.startswith("synthetic")], Recipe())
        head = fit_head(x, y, b.labels, 4.0)
        return lambda e: e @ head.weights.T + head.bias
    return b.custom(fit, rules=False)


def no_rules(b: Bench) -> list[HeldOut]:
    """The default head alone: its folds with no line left to the rules (same head)."""
    return [replace(f, ruled=np.full_like(f.ruled, -1)) for f in b.default_folds()]


def balanced_lr(b: Bench) -> list[HeldOut]:
    from sklearn.linear_model import LogisticRegression

    recipe = Recipe()

    def fit(train: list[CorpusLine]) -> Scorer:
        x, y, w = b.rows(train, recipe)
        model = LogisticRegression(C=recipe.c, max_iter=2000, random_state=0,
                                   class_weight="balanced").fit(x, y, sample_weight=w)
        weights = full_columns(model.coef_.T, model.classes_, len(b.labels), 0.0)
        bias = full_columns(model.intercept_[None], model.classes_, len(b.labels), -1e4)[0]
        bias = bias + b.prior(recipe)
        return lambda e: e @ weights + bias
    return b.custom(fit)


def mlp(b: Bench) -> list[HeldOut]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    recipe = Recipe()

    def fit(train: list[CorpusLine]) -> Scorer:
        x, y, w = b.rows(train, recipe)
        model = MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3, max_iter=300,
                              random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x, y, sample_weight=w)
        return lambda e: full_columns(np.log(np.maximum(model.predict_proba(e), LOG_FLOOR)),
                                      model.classes_, len(b.labels),
                                      np.log(LOG_FLOOR)) + b.prior(recipe)
    return b.custom(fit)


def knn_votes(x: np.ndarray, train_x: np.ndarray, train_y: np.ndarray, n: int,
              k: int = 10, scale: float = 0.05) -> np.ndarray:
    """Label distribution of the ``k`` most similar training templates, weighted
    ``exp(cosine / scale)`` (embeddings are L2-normalised, so cosine is the dot product)."""
    sims = x @ train_x.T
    top = np.argpartition(-sims, min(k, sims.shape[1]) - 1, axis=1)[:, :k]
    # exp((s - 1) / scale): the same weights once normalised, and no overflow
    weights = np.exp((np.take_along_axis(sims, top, axis=1) - 1.0) / scale)
    votes = np.zeros((len(x), n))
    np.add.at(votes, (np.arange(len(x))[:, None], train_y[top]), weights)
    return votes / votes.sum(axis=1, keepdims=True)


def lr_knn(b: Bench) -> list[HeldOut]:
    """Half the default head's softmax (its folds' logits), half the nearest-template vote."""
    folds = []
    for fold in b.default_folds():
        train, test = held_out_split(b.lines, fold.system)
        templates, y, _ = template_rows(train, b.labels)
        votes = knn_votes(b.embed([mask(ln.message) for ln in test]), b.embed(templates), y,
                          len(b.labels))
        mixed = 0.5 * softmax(fold.logits) + 0.5 * votes
        folds.append(replace(fold, logits=np.log(np.maximum(mixed, LOG_FLOOR))))
    return folds


VARIANTS: list[tuple[str, Callable[[Bench], list[HeldOut]]]] = [
    ("synthetic only (previous recipe)", synthetic_only),
    ("+ real logs, no rules", no_rules),
    ("default (Recipe(), rules)", Bench.default_folds),
    ("real templates weighted 4x (real_weight=4)", lambda b: b.recipe(Recipe(real_weight=4.0))),
    ("no routine prior (routine_prior=0)", lambda b: b.recipe(Recipe(routine_prior=0.0))),
    ("C=1", lambda b: b.recipe(Recipe(c=1.0))),
    ("C=16", lambda b: b.recipe(Recipe(c=16.0))),
    ("class-balanced LR", balanced_lr),
    ("MLP head (256 hidden)", mlp),
    ("LR + nearest templates (k=10)", lr_knn),
]


def summarise(folds: list[HeldOut], labels: list[str]) -> dict[str, Any]:
    return report(folds, labels, fit_temperature(*pooled_logits(folds)))


def print_table(results: list[tuple[str, dict[str, Any]]], systems: list[str],
                markdown: bool) -> None:
    head = [*systems, "mean", "min", "pooled", "T", "thr", "cover", "prec"]
    rows = [[name, *(f"{r['systems'][s]['macro_f1']:.3f}" for s in systems),
             *(f"{r[k]:.3f}" for k in ("mean_macro_f1", "min_macro_f1")),
             f"{r['pooled']['macro_f1']:.3f}", f"{r['temperature']:.2f}", f"{r['threshold']:.2f}",
             *(f"{r[k]:.3f}" for k in ("coverage_at_threshold", "precision_at_threshold"))]
            for name, r in results]
    if markdown:
        print("| variant | " + " | ".join(head) + " |")
        print("|---|" + "---:|" * len(head))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    width = max(len(name) for name, _ in results)
    cells = [max(6, len(h)) for h in head]
    for row in [["variant", *head], *rows]:
        print(f"{row[0]:<{width}}" + "".join(f"{v:>{c + 1}}"
                                             for v, c in zip(row[1:], cells, strict=True)))
    print("\nmacro-F1 per held-out system (rules, then the head), their mean and lowest, and "
          "pooled over all held-out lines;\nT: fitted temperature, thr: threshold for "
          "precision >= 0.90, with its coverage and precision.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args()
    if not DEFAULT_LOGHUB_DIR.is_dir():
        print(f"skipped: no Loghub samples at {DEFAULT_LOGHUB_DIR} (the folder of "
              "*_2k.log_structured.csv)")
        return 0
    from processors.bert import load_encoder
    from processors.taxonomy import Taxonomy

    settings = Settings()
    lines = load_corpus()
    embed = EmbeddingMemo(load_encoder(settings.bert_model_path, settings.bert_threads))
    embed(sorted({mask(line.message) for line in lines}))  # every distinct template, once
    bench = Bench(lines, [*loghub_systems(), SYNTHETIC_TEST],
                  list(Taxonomy.load(settings.taxonomy).label_names), embed,
                  _taxonomy_rules(settings))
    results = []
    for name, variant in VARIANTS:
        started = time.perf_counter()
        results.append((name, summarise(variant(bench), bench.labels)))
        print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print_table(results, bench.systems, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
