"""``logclass classify``: label a file offline with the service's pipeline, streaming.

Input: any format of :mod:`app.inputs` (CSV with ``log_message``, plain text lines, NDJSON;
gzip or not). Output: CSV with the input's columns (``source, log_message`` for text and
NDJSON) and ``target_label, confidence, tier, reason``, one row per record, in input order.

A big input is read in chunks: a pool of processes masks and regex-matches them (the part of
a pass over a file that grows with its lines) while this process classifies the templates
they leave (cache, BERT, LLM, once per distinct template) and writes the chunks out in
order. At most ``in_flight`` chunks are read ahead of the writer, so memory stays bounded
whatever the size of the file. An input of one or two chunks never starts the pool, and
``--jobs 1`` is the one-process path, chunk after chunk in this process.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import itertools
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import ExitStack
from typing import IO

from app import csv_io
from app.inputs import Chunk, LogReader, detect_format, open_binary
from app.settings import Settings
from app.sidecar.events import EventFields
from processors.pipeline import Classifier, Prepared, to_verdict
from processors.records import LogRecord, Verdict
from processors.taxonomy import Taxonomy

OUTPUT_COLUMNS = (*csv_io.ADDED_COLUMNS, "reason")
CHUNK_LINES = 2_000

Write = Callable[[Chunk, list[Verdict]], None]


def classify_file(path: str, output: str, settings: Settings, jobs: int | None = None,
                  input_format: str = "auto", chunk_lines: int = CHUNK_LINES) -> None:
    """Classify ``path`` (``-``: stdin) into the CSV ``output`` (``-``: stdout).
    ``jobs``: masking processes (default: the machine's cores; 1: none, all in here)."""
    jobs = jobs or os.cpu_count() or 1
    with ExitStack() as stack:
        stream = stack.enter_context(open_binary(path))
        fmt = detect_format(path, stream, input_format)
        reader = LogReader(stream, fmt, path, EventFields.from_settings(settings))
        chunks = reader.chunks(chunk_lines, keep_rows=True)
        target = _open_output(stack, output)
        kept = [i for i, name in enumerate(reader.header) if name not in OUTPUT_COLUMNS]
        target.write(_csv_line([reader.header[i] for i in kept] + list(OUTPUT_COLUMNS)))

        def write(chunk: Chunk, verdicts: list[Verdict]) -> None:
            assert chunk.rows is not None
            target.write(render_rows(kept, chunk.rows, verdicts))

        asyncio.run(_classify_chunks(settings, chunks, write, jobs))


async def _classify_chunks(settings: Settings, chunks: Iterator[Chunk], write: Write,
                           jobs: int) -> None:
    from tqdm import tqdm

    classifier = Classifier.from_settings(settings)
    head = list(itertools.islice(chunks, 3))
    chunks = itertools.chain(head, chunks)
    try:
        with tqdm(unit="line", file=sys.stderr, disable=None) as progress:
            def counted(chunk: Chunk, verdicts: list[Verdict]) -> None:
                write(chunk, verdicts)
                progress.update(len(chunk))

            if jobs <= 1 or len(head) < 3:  # not worth starting processes
                for chunk in chunks:
                    counted(chunk, await classify_chunk(classifier, chunk))
                return
            with masking_pool(settings, jobs) as pool:
                await classify_in_parallel(classifier, chunks, pool, counted, 2 * jobs + 2)
    finally:
        await classifier.aclose()


async def classify_chunk(classifier: Classifier, chunk: Chunk) -> list[Verdict]:
    """The one-process path: the whole pipeline on one chunk, here."""
    records = [LogRecord(s, m) for s, m in zip(chunk.sources, chunk.messages, strict=True)]
    return with_notes(await classifier.classify(records), chunk.notes)


async def classify_in_parallel(classifier: Classifier, chunks: Iterable[Chunk], pool: Executor,
                               write: Write, in_flight: int) -> None:
    """Chunks masked in ``pool`` (:func:`match_chunk`), their templates decided here, each
    chunk written in input order. Never more than ``in_flight`` chunks read and not yet
    written: the next chunk is read only after the oldest is written."""
    loop = asyncio.get_running_loop()
    queue: deque[tuple[Chunk, asyncio.Future[Prepared]]] = deque()

    async def finish_oldest() -> None:
        chunk, matched = queue.popleft()
        write(chunk, await decide(classifier, await matched, chunk.notes))

    for chunk in chunks:
        queue.append((chunk, loop.run_in_executor(pool, match_chunk, chunk.sources,
                                                  chunk.messages)))
        if len(queue) >= in_flight:
            await finish_oldest()
    while queue:
        await finish_oldest()


async def decide(classifier: Classifier, prepared: Prepared, notes: Sequence[str | None]
                 ) -> list[Verdict]:
    """Verdicts of a matched chunk: its pending templates decided by ``classifier``."""
    verdicts = prepared.verdicts
    if prepared.pending:
        outcomes = await classifier.decide_templates(list(prepared.pending))
        truncated = prepared.truncated
        for key, indexes in prepared.pending.items():
            outcome, cached = outcomes[key]
            whole = to_verdict(outcome, cached, key[1], False)  # one object per template
            cut = to_verdict(outcome, cached, key[1], True) if truncated else whole
            for i in indexes:
                verdicts[i] = cut if i in truncated else whole
    return with_notes(verdicts, notes)  # type: ignore[arg-type]  # every slot is filled


def with_notes(verdicts: list[Verdict], notes: Sequence[str | None]) -> list[Verdict]:
    """A record's note (``malformed_event``, ``no_message``) says more than any reason the
    classifier gave, as in the ingest endpoints."""
    if any(notes):
        verdicts = [dataclasses.replace(v, reason=note) if note else v
                    for v, note in zip(verdicts, notes, strict=True)]
    return verdicts


# -- the masking processes -----------------------------------------------------------------

_rules: Classifier | None = None  # each pool process's own: rules only, no model tier


def masking_pool(settings: Settings, jobs: int) -> ProcessPoolExecutor:
    """``jobs`` fresh processes (spawned: this one may hold torch's threads) that each load
    the taxonomy once."""
    return ProcessPoolExecutor(
        jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_load_rules,
        initargs=(str(settings.taxonomy), settings.max_line_chars),
    )


def _load_rules(taxonomy_path: str, max_line_chars: int) -> None:
    global _rules
    _rules = Classifier(Taxonomy.load(taxonomy_path), max_line_chars=max_line_chars)


def match_chunk(sources: list[str], messages: list[str]) -> Prepared:
    """Runs in a pool process: :meth:`Classifier.match_rules` on one chunk."""
    assert _rules is not None, "the pool process was not started by masking_pool"
    return _rules.match_rules([LogRecord(s, m) for s, m in zip(sources, messages, strict=True)])


# -- CSV out ------------------------------------------------------------------------------

def render_rows(kept: Sequence[int], rows: Sequence[Sequence[str]],
                verdicts: Sequence[Verdict]) -> str:
    """CSV text of ``rows`` (their ``kept`` cells) with the verdict columns appended, every
    cell made safe against spreadsheet formulas. The verdict cells are made once per
    distinct verdict: a file has few."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    safe = csv_io.safe_cell
    made: dict[tuple[str, float | None, str, str | None], list[str]] = {}
    for row, verdict in zip(rows, verdicts, strict=True):
        key = (verdict.label, verdict.confidence, verdict.tier, verdict.reason)
        cells = made.get(key)
        if cells is None:
            confidence = "" if verdict.confidence is None else f"{verdict.confidence:.4f}"
            cells = made[key] = [safe(cell) for cell in (verdict.label, confidence,
                                                         verdict.tier, verdict.reason or "")]
        writer.writerow([safe(row[i]) for i in kept] + cells)
    return buffer.getvalue()


def _csv_line(cells: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([csv_io.safe_cell(c) for c in cells])
    return buffer.getvalue()


def _open_output(stack: ExitStack, path: str) -> IO[str]:
    if path == "-":
        return sys.stdout
    return stack.enter_context(open(path, "w", encoding="utf-8", newline=""))


