"""The ``logclass`` command: serve the API, or classify files offline with the same pipeline
(``classify``: one file, this machine; ``backfill``: archives, on Ray)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from app import csv_io
from app.cli_train import add_train_commands
from app.inputs import FORMATS, InputError
from app.settings import Settings
from processors.taxonomy import Taxonomy, TaxonomyError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="logclass", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="default: LOGCLASS_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default: LOGCLASS_PORT or 8000")
    serve.add_argument("--workers", type=int, help="default: LOGCLASS_WORKERS or 1")
    serve.set_defaults(run=_serve)

    formats = ("auto", *FORMATS)
    classify = commands.add_parser("classify", help="classify a file offline, on this machine")
    classify.add_argument("input", help="CSV with a log_message column, text lines or NDJSON, "
                          "gzip or not ('-' for stdin)")
    classify.add_argument("-o", "--output", default="-", help="output CSV ('-' for stdout)")
    classify.add_argument("--jobs", type=int, help="masking processes; default: the cores; "
                          "1 = everything in one process")
    classify.add_argument("--input-format", choices=formats, default="auto")
    classify.set_defaults(run=_classify)

    backfill = commands.add_parser("backfill", help="classify archives with Ray Data "
                                   "(pip install -e '.[backfill]')")
    backfill.add_argument("inputs", nargs="+", metavar="INPUT",
                          help="files (or folders of files) like classify's input")
    backfill.add_argument("--out", required=True, help="folder for one output file per input")
    backfill.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl")
    backfill.add_argument("--input-format", choices=formats, default="auto")
    backfill.add_argument("--ray-address", help="'auto' (or host:port) joins a running "
                          "cluster; default: a local Ray on this machine")
    backfill.add_argument("--cpus", type=int, help="local Ray only; default: the cores")
    backfill.add_argument("--actors", type=int, help="classifier actors (one model each); "
                          "default: one per 16 CPUs of the cluster, at least one")
    backfill.add_argument("--stats", action="store_true",
                          help="print Ray Data's time per stage at the end")
    backfill.set_defaults(run=_backfill)
    add_train_commands(commands)

    args = parser.parse_args(argv)
    try:
        settings = Settings()
        Taxonomy.load(settings.taxonomy)  # a bad file stops here, with its message
        return args.run(args, settings)
    except (TaxonomyError, csv_io.CsvError, InputError) as exc:
        print(f"logclass: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # a LOGCLASS_* variable that cannot be used
        for error in exc.errors():
            name = "LOGCLASS_" + "_".join(str(part) for part in error["loc"]).upper()
            message = error["msg"].removeprefix("Value error, ")
            print(f"logclass: {message if name in message else f'{name}: {message}'}",
                  file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    overrides = {k: v for k in ("host", "port", "workers") if (v := getattr(args, k)) is not None}
    settings = settings.model_copy(update=overrides)
    # A factory: each worker process builds its own app from the same LOGCLASS_* environment.
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        # SIGTERM: stop accepting, let in-flight requests finish, then cancel what is left
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
    )
    return 0


def _classify(args: argparse.Namespace, settings: Settings) -> int:
    from app.cli_classify import classify_file

    classify_file(args.input, args.output, settings, jobs=args.jobs,
                  input_format=args.input_format)
    return 0


def _backfill(args: argparse.Namespace, settings: Settings) -> int:
    from app.backfill import BackfillError, BackfillOptions, backfill

    options = BackfillOptions(output_format=args.format, input_format=args.input_format,
                              ray_address=args.ray_address, cpus=args.cpus, actors=args.actors,
                              stats=args.stats)
    try:
        report = backfill(args.inputs, args.out, settings, options)
    except BackfillError as exc:
        print(f"logclass: {exc}", file=sys.stderr)
        return 1
    if report.stats:
        print(report.stats, file=sys.stderr)
    startup = "" if report.first_block_seconds is None else \
        f" (the first block after {report.first_block_seconds:.1f} s)"
    print(f"backfill: {len(report.written)} file(s) written, {len(report.skipped)} skipped, "
          f"{report.lines:,} lines in {report.seconds:.1f} s{startup}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
