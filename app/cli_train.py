"""``logclass train`` and ``logclass eval``: fit the BERT head, and score the full pipeline.

Both read a ``source,log_message,target_label`` CSV and show progress on stderr.
Regenerate synthetic data with ``python -m processors.synthetic --out FILE --n N``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from app.settings import Settings

EVAL_CHUNK = 256


def add_train_commands(subparsers: Any) -> None:
    """Register ``train`` and ``eval`` on the ``logclass`` subparsers (run(args, settings))."""
    train = subparsers.add_parser("train", help="train the BERT head on a labelled CSV")
    train.add_argument("--data", required=True, help="CSV: source,log_message,target_label")
    train.add_argument("--out", required=True, help="folder for bert_head.npz and bert_head.json")
    train.add_argument("--folds", type=int, default=5, help="k of the k-fold report (default 5)")
    train.add_argument("--c", type=float, default=4.0, help="inverse regularization (default 4)")
    train.add_argument("--threshold", type=float, help="default: LOGCLASS_BERT_THRESHOLD")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=run_train)

    evaluate = subparsers.add_parser("eval", help="score the full pipeline on a labelled CSV")
    evaluate.add_argument("--data", required=True, help="CSV: source,log_message,target_label")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument("--labels", help="comma-separated labels for macro-F1 (default: all "
                          "gold labels)")
    evaluate.add_argument("--cache", action="store_true",
                          help="use the template cache (off by default so runs are comparable)")
    evaluate.set_defaults(run=run_eval)


def run_train(args: argparse.Namespace, settings: Settings) -> int:
    from processors.bert import load_encoder
    from processors.taxonomy import Taxonomy
    from processors.training import train

    threshold = settings.bert_threshold if args.threshold is None else args.threshold
    labels = Taxonomy.load(settings.taxonomy).label_names
    try:
        print("loading the embedding model…", file=sys.stderr)
        encoder = load_encoder(settings.bert_model_path, settings.bert_threads)
        path, metrics = train(args.data, args.out, encoder, folds=args.folds, c=args.c,
                              threshold=threshold, seed=args.seed, labels=labels, progress=True)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"logclass train: {exc}", file=sys.stderr)
        return 2
    if metrics:
        print(format_report(metrics, f"{args.folds}-fold cross-validation (grouped by template)"))
    print(f"wrote {path} and {path.with_suffix('.json')}")
    return 0


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    from processors.training import read_labelled

    try:
        rows = read_labelled(args.data)
    except (OSError, ValueError) as exc:
        print(f"logclass eval: {exc}", file=sys.stderr)
        return 2
    settings = settings.model_copy(update={"bert_warmup": True})  # load before the clock runs
    if not args.cache:
        settings = settings.model_copy(update={"cache_enabled": False})
    labels = [s.strip() for s in args.labels.split(",")] if args.labels else None
    report = asyncio.run(evaluate(build_classifier(settings), rows, labels))
    print(json.dumps(report, indent=2) if args.json else format_report(report, args.data))
    return 0


async def evaluate(classifier: Any, rows: list[Any],
                   labels: list[str] | None = None) -> dict[str, Any]:
    """Classify every row with ``classifier`` and score it against ``target_label``; closes
    the classifier."""
    from tqdm import tqdm

    from processors.records import LogRecord
    from processors.training import classification_metrics

    records = [LogRecord(row.source, row.message) for row in rows]
    verdicts = []
    try:
        warm = getattr(classifier, "start", None)
        if warm is not None:
            await warm()  # model warm-up (with bert_warmup) is not counted in lines/s
        started = time.perf_counter()
        with tqdm(total=len(records), unit="line", file=sys.stderr, desc="classifying",
                  disable=None) as bar:
            for start in range(0, len(records), EVAL_CHUNK):
                verdicts += await classifier.classify(records[start:start + EVAL_CHUNK])
                bar.update(min(EVAL_CHUNK, len(records) - start))
    finally:
        await classifier.aclose()
    seconds = time.perf_counter() - started
    gold = [row.label for row in rows]
    report = classification_metrics(gold, [v.label for v in verdicts], labels)
    tiers: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for verdict in verdicts:
        tiers[verdict.tier] = tiers.get(verdict.tier, 0) + 1
        if verdict.reason:
            reasons[verdict.reason] = reasons.get(verdict.reason, 0) + 1
    report.update(tiers=tiers, reasons=reasons, seconds=round(seconds, 2),
                  lines_per_second=round(len(rows) / seconds, 1) if seconds else None)
    return report


def build_classifier(settings: Settings) -> Any:
    """The deployment's classifier; adds the BERT tier if ``from_settings`` did not wire it."""
    from monitoring import MetricsRegistry
    from processors.bert import BertTier
    from processors.pipeline import Classifier

    registry = MetricsRegistry()
    classifier = Classifier.from_settings(settings, registry)
    if "bert" in classifier.tiers:
        return classifier
    tiers = {**classifier.tiers, "bert": BertTier.from_settings(
        settings, registry, classifier.taxonomy.label_names)}
    return Classifier(classifier.taxonomy, tiers, classifier.cache, registry,
                      max_line_chars=settings.max_line_chars)


def format_report(report: dict[str, Any], title: str) -> str:
    lines = [f"== {title}", f"lines {report['lines']}  accuracy {report['accuracy']:.4f}  "
             f"macro-F1 {report['macro_f1']:.4f} over {len(report['macro_f1_labels'])} labels"]
    if "lines_per_second" in report:
        lines.append(f"{report['lines_per_second']} lines/s  tiers {report['tiers']}  "
                     f"reasons {report['reasons']}")
    if "coverage_at_threshold" in report:
        lines.append(f"coverage at threshold {report['coverage_at_threshold']:.4f}, accuracy "
                     f"when confident {report['accuracy_when_confident']:.4f}")
    lines.append(f"{'label':<22}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
    for label, s in report["per_class"].items():
        lines.append(f"{label:<22}{s['precision']:>10.4f}{s['recall']:>10.4f}{s['f1']:>10.4f}"
                     f"{s['support']:>9}")
    names = report["confusion"]["labels"]
    lines.append("confusion (rows gold, columns predicted): " + " | ".join(
        f"{i}={name}" for i, name in enumerate(names)))
    for i, row in enumerate(report["confusion"]["matrix"]):
        lines.append(f"{i:>3} " + " ".join(f"{n:>5}" for n in row))
    return "\n".join(lines)
