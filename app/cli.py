"""The ``logclass`` command: serve the API, or classify a CSV offline with the same pipeline."""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from typing import IO

from pydantic import ValidationError

from app import csv_io
from app.cli_train import add_train_commands
from app.settings import Settings
from processors.pipeline import Classifier
from processors.taxonomy import Taxonomy, TaxonomyError

CHUNK_ROWS = 1_000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="logclass", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="default: LOGCLASS_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default: LOGCLASS_PORT or 8000")
    serve.add_argument("--workers", type=int, help="default: LOGCLASS_WORKERS or 1")
    serve.set_defaults(run=_serve)

    classify = commands.add_parser("classify", help="classify a CSV file offline")
    classify.add_argument("input", help="CSV with a log_message column ('-' for stdin)")
    classify.add_argument("-o", "--output", default="-", help="output CSV ('-' for stdout)")
    classify.set_defaults(run=_classify)
    add_train_commands(commands)

    args = parser.parse_args(argv)
    try:
        settings = Settings()
        Taxonomy.load(settings.taxonomy)  # a bad file stops here, with its message
        return args.run(args, settings)
    except (TaxonomyError, csv_io.CsvError) as exc:
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
    with ExitStack() as stack:
        source = _open(stack, args.input, "r", sys.stdin)
        header, rows = csv_io.read_table(source, max_rows=sys.maxsize)
        target = _open(stack, args.output, "w", sys.stdout)
        asyncio.run(_classify_rows(settings, header, rows, target))
    return 0


async def _classify_rows(
    settings: Settings, header: list[str], rows: list[list[str]], target: IO[str]
) -> None:
    from tqdm import tqdm

    classifier = Classifier.from_settings(settings)
    records = csv_io.records_of(header, rows)
    try:
        target.write(csv_io.render_header(header))
        with tqdm(total=len(records), unit="line", file=sys.stderr, disable=None) as progress:
            for start, stop in csv_io.chunks(records, CHUNK_ROWS):
                verdicts = await classifier.classify(records[start:stop])
                target.write(csv_io.render_rows(header, rows[start:stop], verdicts))
                progress.update(stop - start)
    finally:
        await classifier.aclose()


def _open(stack: ExitStack, path: str, mode: str, std: IO[str]) -> IO[str]:
    if path == "-":
        if mode == "r":
            return io.TextIOWrapper(std.buffer, encoding="utf-8-sig", newline="")
        return std
    encoding = "utf-8-sig" if mode == "r" else "utf-8"
    return stack.enter_context(open(path, mode, encoding=encoding, newline=""))


if __name__ == "__main__":
    raise SystemExit(main())
