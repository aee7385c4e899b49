"""Leave-one-system-out: the honest estimate of how the default head does on a new system.

For each system of the corpus, train on every other system (plus synthetic lines) and
classify the held-out system's lines, all of them (no threshold). A template never sits on
both sides, because a whole system is held out. The out-of-fold confidences then calibrate
the head (temperature scaling) and choose the threshold that keeps precision at a target;
the precision/coverage curve says what each threshold costs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from processors.corpus import CorpusLine, held_out_split, system_group
from processors.head import Head
from processors.templates import mask
from processors.training import classification_metrics, fit_head


@dataclass(frozen=True)
class Recipe:
    """How the default head is trained from a corpus.

    ``real_weight``: weight of a template from real logs (Loghub, captured servers) relative
    to a synthetic one, which are many and uniform. ``routine_prior``: added to the logit of
    ``routine_label``, the label most real lines have and the synthetic set under-represents
    (balanced labels); a prior shift, not a rule.
    """

    c: float = 4.0
    real_weight: float = 1.0
    routine_prior: float = 0.5
    routine_label: str = "System Notification"


def template_rows(lines: Sequence[CorpusLine], labels: Sequence[str]
                  ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Distinct (template, label) pairs of ``lines``: templates, label indexes, and whether
    each came from the synthetic generator.

    One row per distinct template, not per line: a template logged 500 times teaches the
    head no more than one logged once (the cache answers per template too).
    """
    seen: dict[tuple[str, str], str] = {}
    for line in lines:
        seen.setdefault((mask(line.message), line.label), line.system)
    templates = [template for template, _ in seen]
    y = np.array([labels.index(label) for _, label in seen], dtype=np.int64)
    synthetic = np.array([system_group(system) == "synthetic" for system in seen.values()])
    return templates, y, synthetic


def train_head(lines: Sequence[CorpusLine], labels: Sequence[str],
               embed: Callable[[Sequence[str]], np.ndarray], recipe: Recipe = Recipe(),
               temperature: float = 1.0) -> Head:
    """The head ``recipe`` makes from ``lines``; logits divided by ``temperature``."""
    templates, y, synthetic = template_rows(lines, labels)
    weights = np.where(synthetic, 1.0, recipe.real_weight)
    head = fit_head(embed(templates), y, labels, recipe.c, sample_weight=weights)
    bias = head.bias.copy()
    if recipe.routine_label in labels:
        bias[list(labels).index(recipe.routine_label)] += recipe.routine_prior
    return Head(head.weights / temperature, bias / temperature, head.labels)


@dataclass
class HeldOut:
    """Out-of-fold predictions of one held-out system: the head's logits per line, the
    label index a regex rule gave the line (-1 where none matched), gold indexes."""

    system: str
    logits: np.ndarray
    ruled: np.ndarray
    gold: np.ndarray

    def predicted(self) -> np.ndarray:
        return np.where(self.ruled >= 0, self.ruled, self.logits.argmax(axis=1))


# What the regex tier says of a line before the head: (raw line, template) -> label or None.
Rules = Callable[[str, str], str | None]


def leave_one_system_out(lines: Sequence[CorpusLine], systems: Sequence[str],
                         labels: Sequence[str], embed: Callable[[Sequence[str]], np.ndarray],
                         recipe: Recipe = Recipe(), rules: Rules | None = None,
                         progress: Callable[[str], None] | None = None) -> list[HeldOut]:
    """Train without each system in turn and predict its lines (logits, before softmax);
    ``rules`` decide first, as the pipeline's regex tier does."""
    folds = []
    for system in systems:
        if progress:
            progress(system)
        train, test = held_out_split(list(lines), system)
        head = train_head(train, labels, embed, recipe)
        templates = [mask(line.message) for line in test]
        distinct = sorted(set(templates))
        x = embed(distinct)
        logits = x @ head.weights.T + head.bias
        row = {template: i for i, template in enumerate(distinct)}
        ruled = [rules(line.message, template) if rules else None
                 for line, template in zip(test, templates, strict=True)]
        folds.append(HeldOut(system, logits[[row[t] for t in templates]],
                             np.array([-1 if r is None else labels.index(r) for r in ruled]),
                             np.array([labels.index(line.label) for line in test])))
    return folds


def pooled_logits(folds: Sequence[HeldOut]) -> tuple[np.ndarray, np.ndarray]:
    """The head's logits and the gold labels of every held-out line the rules left over
    (what the head's calibration is about)."""
    return (np.concatenate([fold.logits[fold.ruled < 0] for fold in folds]),
            np.concatenate([fold.gold[fold.ruled < 0] for fold in folds]))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    return z / z.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, gold: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood (a 1-d search)."""
    candidates = np.exp(np.linspace(np.log(0.05), np.log(20.0), 241))
    rows = np.arange(len(gold))

    def nll(t: float) -> float:
        return float(-np.log(softmax(logits, t)[rows, gold] + 1e-12).mean())

    return float(min(candidates, key=nll))


def precision_coverage(confidence: np.ndarray, correct: np.ndarray,
                       thresholds: Sequence[float] = tuple(np.round(np.arange(0, 1.0, 0.05), 2))
                       ) -> list[dict[str, float]]:
    """For each threshold: the share of lines labelled (coverage) and how many are right."""
    points = []
    for threshold in thresholds:
        kept = confidence >= threshold
        points.append({
            "threshold": float(threshold),
            "coverage": round(float(kept.mean()), 4),
            "precision": round(float(correct[kept].mean()), 4) if kept.any() else 1.0,
        })
    return points


def threshold_for_precision(confidence: np.ndarray, correct: np.ndarray,
                            target: float = 0.90) -> float:
    """The lowest threshold at which the lines labelled are at least ``target`` correct,
    which is the most coverage that precision allows (1.0 if no threshold does)."""
    order = np.argsort(-confidence, kind="stable")
    ranked = np.floor(confidence[order] * 1000) / 1000  # so every counted line clears it
    precision = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    last_of_tie = np.append(ranked[1:] != ranked[:-1], True)  # a threshold keeps whole ties
    ok = np.nonzero(last_of_tie & (precision >= target))[0]
    return round(float(ranked[ok[-1]]), 3) if len(ok) else 1.0


def report(folds: Sequence[HeldOut], labels: Sequence[str], temperature: float = 1.0,
           target_precision: float = 0.90) -> dict[str, Any]:
    """Per-system and pooled metrics of the pipeline (rules, then the head), the head's
    alone for comparison, and the calibrated threshold with its coverage."""
    names = list(labels)

    def scores(gold: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
        return classification_metrics([names[i] for i in gold], [names[i] for i in predicted])

    per_system = {}
    for fold in folds:
        metrics = scores(fold.gold, fold.predicted())
        per_system[fold.system] = {
            "lines": metrics["lines"], "accuracy": metrics["accuracy"],
            "macro_f1": metrics["macro_f1"], "ruled": int((fold.ruled >= 0).sum()),
            "head_only_macro_f1": scores(fold.gold, fold.logits.argmax(axis=1))["macro_f1"],
        }
    gold = np.concatenate([fold.gold for fold in folds])
    predicted = np.concatenate([fold.predicted() for fold in folds])
    confidence = np.concatenate([
        np.where(fold.ruled >= 0, 1.0, softmax(fold.logits, temperature).max(axis=1))
        for fold in folds])
    correct = predicted == gold
    threshold = threshold_for_precision(confidence, correct, target_precision)
    kept = confidence >= threshold
    groups: dict[str, list[dict[str, Any]]] = {}
    for system, scored in per_system.items():
        groups.setdefault(system_group(system), []).append(scored)
    # the headline is the Loghub systems' (the goal's); each kind of data also on its own
    headline = groups.get("loghub") or list(per_system.values())
    return {
        "systems": per_system,
        "mean_macro_f1": round(float(np.mean([s["macro_f1"] for s in headline])), 4),
        "min_macro_f1": round(float(np.min([s["macro_f1"] for s in headline])), 4),
        "head_only_mean_macro_f1": round(float(np.mean(
            [s["head_only_macro_f1"] for s in headline])), 4),
        "group_mean_macro_f1": {group: round(float(np.mean([s["macro_f1"] for s in scored])), 4)
                                for group, scored in groups.items()},
        "pooled": scores(gold, predicted),
        "temperature": round(temperature, 4),
        "threshold": threshold,
        "target_precision": target_precision,
        "coverage_at_threshold": round(float(kept.mean()), 4),
        "precision_at_threshold": round(float(correct[kept].mean()), 4) if kept.any() else 1.0,
        "precision_coverage": precision_coverage(confidence, correct),
    }


def train_default_head(lines: Sequence[CorpusLine], systems: Sequence[str],
                       labels: Sequence[str], embed: Callable[[Sequence[str]], np.ndarray],
                       recipe: Recipe = Recipe(), rules: Rules | None = None,
                       target_precision: float = 0.90,
                       progress: Callable[[str], None] | None = None
                       ) -> tuple[Head, dict[str, Any]]:
    """Leave-one-system-out over ``systems``, then the head trained on all of ``lines``.

    The held-out predictions calibrate it: their temperature is folded into the head's
    weights, and the threshold that keeps ``target_precision`` on them is reported (it is
    the head's default threshold). Returns the head and the leave-one-system-out report.
    """
    folds = leave_one_system_out(lines, systems, labels, embed, recipe, rules, progress)
    temperature = fit_temperature(*pooled_logits(folds))
    summary = report(folds, labels, temperature, target_precision)
    summary["recipe"] = dict(vars(recipe))
    return train_head(lines, labels, embed, recipe, temperature), summary
