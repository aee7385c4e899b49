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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.settings import Settings
from processors.corpus import DEFAULT_LOGHUB_DIR

EVAL_CHUNK = 256


def add_train_commands(subparsers: Any) -> None:
    """Register ``train`` and ``eval`` on the ``logclass`` subparsers (run(args, settings))."""
    train = subparsers.add_parser("train", help="train the BERT head on a labelled CSV")
    data = train.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", help="CSV: source,log_message,target_label")
    data.add_argument("--corpus", action="store_true",
                      help="the built-in corpus (synthetic + labelled Loghub + captured real "
                      "logs): rebuilds the default head, calibrated by leave-one-system-out")
    train.add_argument("--loghub", type=Path, default=DEFAULT_LOGHUB_DIR,
                       help="folder of the Loghub 2k samples (default: %(default)s)")
    train.add_argument("--out", required=True, help="folder for bert_head.npz and bert_head.json")
    train.add_argument("--folds", type=int, default=5, help="k of the k-fold report (default 5)")
    train.add_argument("--c", type=float, default=4.0, help="inverse regularization (default 4)")
    train.add_argument("--threshold", type=float,
                       help="default: LOGCLASS_BERT_THRESHOLD, else 0.5 (with --corpus: the "
                       "calibrated one)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--corrections", type=Path,
                       help="operators' corrections (LOGCLASS_CORRECTIONS_PATH's YAML) to "
                       "learn from too, so similar templates follow them")
    train.set_defaults(run=run_train)

    evaluate = subparsers.add_parser("eval", help="score the full pipeline on a labelled CSV")
    data = evaluate.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", help="CSV: source,log_message,target_label")
    data.add_argument("--leave-one-system-out", action="store_true",
                      help="train the default recipe on all systems of the built-in corpus "
                      "but one (a Loghub system, a captured program, or the held-out "
                      "synthetic phrasings), test on that one, for each (needs --loghub)")
    evaluate.add_argument("--loghub", type=Path, default=DEFAULT_LOGHUB_DIR,
                          help="folder of the Loghub 2k samples (default: %(default)s)")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument("--labels", help="comma-separated labels for macro-F1 (default: all "
                          "gold labels)")
    evaluate.add_argument("--cache", action="store_true",
                          help="use the template cache (off by default so runs are comparable)")
    evaluate.set_defaults(run=run_eval)


def run_train(args: argparse.Namespace, settings: Settings) -> int:
    if args.corpus:
        return run_train_corpus(args, settings)
    from processors.bert import DEFAULT_THRESHOLD, load_encoder
    from processors.taxonomy import Taxonomy
    from processors.training import LabelledLine, train, training_rows

    threshold = next(t for t in (args.threshold, settings.bert_threshold, DEFAULT_THRESHOLD)
                     if t is not None)
    labels = Taxonomy.load(settings.taxonomy).label_names
    try:
        rows, skipped = training_rows(args.data, labels)  # a bad file fails before the model
        if skipped:
            print(f"skipped {skipped} Unclassified row(s) of {args.data}", file=sys.stderr)
        corrected = _corrections(args, labels)
        rows += [LabelledLine(c.route, c.template, c.label) for c in corrected]
        print("loading the embedding model…", file=sys.stderr)
        encoder = load_encoder(settings.bert_model_path, settings.bert_threads)
        path, metrics = train(args.data, args.out, encoder, folds=args.folds, c=args.c,
                              threshold=threshold, seed=args.seed, labels=labels, progress=True,
                              rows=rows, notes={"corrections": len(corrected)})
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"logclass train: {exc}", file=sys.stderr)
        return 2
    if metrics:
        print(format_report(metrics, f"{args.folds}-fold cross-validation (grouped by template)"))
    print(f"wrote {path} and {path.with_suffix('.json')}")
    return 0


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    if args.leave_one_system_out:
        return run_leave_one_system_out(args, settings)
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


def run_train_corpus(args: argparse.Namespace, settings: Settings) -> int:
    """Rebuild the default head from the built-in corpus; its LOSO report goes in its JSON."""
    from processors.head import save_head
    from processors.training import masker_sha256

    done = _default_recipe(args, settings, "train")
    if done is None:
        return 2
    lines, labels, encoder, recipe, head, summary = done
    path = save_head(head, Path(args.out) / "bert_head.npz", {
        "embedding_model": encoder.model_id,
        "normalized": True,
        "threshold": summary["threshold"],
        "regularization_c": recipe.c,
        "training_data": "built-in corpus: " + ", ".join(sorted({ln.system for ln in lines})),
        "training_lines": len(lines),
        "masker_sha256": masker_sha256(),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": {k: v for k, v in summary.items() if k != "pooled"},
    })
    print(format_loso(summary, labels))
    print(f"wrote {path} and {path.with_suffix('.json')}")
    return 0


def run_leave_one_system_out(args: argparse.Namespace, settings: Settings) -> int:
    done = _default_recipe(args, settings, "eval")
    if done is None:
        return 2
    labels, summary = done[1], done[-1]
    print(json.dumps(summary, indent=2) if args.json else format_loso(summary, labels))
    return 0


def _default_recipe(args: argparse.Namespace, settings: Settings, command: str) -> Any:
    """The default recipe run over the built-in corpus: (lines, labels, encoder, recipe,
    head, leave-one-system-out report), or None after saying what is wrong."""
    from processors.loso import Recipe, train_default_head

    loaded = _load_corpus(args, settings, command)
    if loaded is None:
        return None
    lines, systems, labels, embed = loaded
    recipe = Recipe()
    head, summary = train_default_head(lines, systems, labels, embed, recipe,
                                       _taxonomy_rules(settings), progress=_progress(command))
    return lines, labels, embed.encoder, recipe, head, summary


def _load_corpus(args: argparse.Namespace, settings: Settings, command: str) -> Any:
    """(lines, held-out systems, labels, memoised embed) or None after saying what is wrong."""
    from processors.bert import load_encoder
    from processors.corpus import CorpusLine, held_out_systems, load_corpus
    from processors.taxonomy import Taxonomy
    from processors.training import EmbeddingMemo

    if not args.loghub.is_dir():
        print(f"logclass {command}: no Loghub samples at {args.loghub}; pass --loghub DIR "
              "(the folder of *_2k.log_structured.csv)", file=sys.stderr)
        return None
    labels = list(Taxonomy.load(settings.taxonomy).label_names)
    lines = load_corpus(args.loghub)
    try:
        lines += [CorpusLine(CORRECTIONS_SYSTEM, c.route, c.template, c.label)
                  for c in _corrections(args, labels)]
    except (OSError, ValueError) as exc:
        print(f"logclass {command}: {exc}", file=sys.stderr)
        return None
    unknown = sorted({line.label for line in lines} - set(labels))
    if unknown:
        print(f"logclass {command}: corpus label(s) {unknown} are not in the taxonomy",
              file=sys.stderr)
        return None
    print("loading the embedding model…", file=sys.stderr)
    encoder = load_encoder(settings.bert_model_path, settings.bert_threads)
    return lines, held_out_systems(lines), labels, EmbeddingMemo(encoder)


# a captured-real-logs system to leave-one-system-out: held out (and scored) once operators
# have corrected enough templates, like any captured program
CORRECTIONS_SYSTEM = "real:operator-corrections"


def _corrections(args: argparse.Namespace, labels: Any) -> list[Any]:
    """The corrections file's entries (``--corrections``), validated against the labels."""
    path = getattr(args, "corrections", None)
    if path is None:
        return []
    from processors.corrections import CorrectionStore

    if not path.is_file():
        raise ValueError(f"{path}: no such corrections file")
    return CorrectionStore(path, labels).all()


def _taxonomy_rules(settings: Settings) -> Any:
    """The taxonomy's regex rules as the pipeline applies them: raw line, then template."""
    from processors.regex import RegexTier
    from processors.taxonomy import Taxonomy

    taxonomy = Taxonomy.load(settings.taxonomy)
    on_line = RegexTier(taxonomy.rules_on("line"))
    on_template = RegexTier(taxonomy.rules_on("template"))
    return lambda line, template: on_line.match(line) or on_template.match(template)


def _progress(command: str) -> Any:
    return lambda system: print(f"logclass {command}: holding out {system}", file=sys.stderr)


def format_loso(summary: dict[str, Any], labels: list[str]) -> str:
    """The leave-one-system-out report as a person reads it."""
    lines = ["== leave-one-system-out (train on the others, test on this one, every line)",
             f"{'held-out system':<20}{'lines':>7}{'by rules':>9}{'accuracy':>10}{'macro-F1':>10}"
             f"{'head only':>11}"]
    for system, s in summary["systems"].items():
        lines.append(f"{system:<20}{s['lines']:>7}{s['ruled']:>9}{s['accuracy']:>10.4f}"
                     f"{s['macro_f1']:>10.4f}{s['head_only_macro_f1']:>11.4f}")
    lines.append(f"Loghub systems: mean macro-F1 {summary['mean_macro_f1']:.4f}, lowest "
                 f"{summary['min_macro_f1']:.4f} (head alone: mean "
                 f"{summary['head_only_mean_macro_f1']:.4f})")
    lines.append("mean macro-F1 by kind of held-out data: " + ", ".join(
        f"{group} {mean:.4f}" for group, mean in summary["group_mean_macro_f1"].items()))
    lines.append(f"calibrated: temperature {summary['temperature']}, threshold "
                 f"{summary['threshold']} for precision >= {summary['target_precision']}: "
                 f"coverage {summary['coverage_at_threshold']:.4f}, precision "
                 f"{summary['precision_at_threshold']:.4f}")
    lines.append("threshold  coverage  precision")
    lines += [f"{p['threshold']:>9.2f}{p['coverage']:>10.4f}{p['precision']:>11.4f}"
              for p in summary["precision_coverage"]]
    if "pooled" in summary:
        lines.append(format_report(summary["pooled"], "all held-out lines together"))
    return "\n".join(lines)


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
