"""Where ``logclass backfill`` writes: one output file per input, in input order, each
under a temporary name until its input's last line is in, and the progress line.

Only the driver process uses this; blocks reach it in input order (Ray Data's
``preserve_order``), each carrying its input's index in the ``file`` column.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from app.backfill_stages import VERDICT_COLUMNS, verdict_schema
from app.inputs import Format

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True, slots=True)
class Job:
    """One input to backfill: its index (the blocks' ``file``), path, output and format."""

    index: int
    source: str
    output: Path
    format: Format


@dataclass(slots=True)
class BackfillReport:
    written: list[str] = field(default_factory=list)  # output files completed by this run
    skipped: list[str] = field(default_factory=list)  # inputs whose output already existed
    lines: int = 0
    templates: int = 0  # distinct templates among the lines written
    seconds: float = 0.0
    first_block_seconds: float | None = None  # start-up: Ray, workers, the first block
    complete: bool = True  # False: stopped before every input was written
    stats: str = ""  # Ray Data's per-stage summary, when asked for


def partial_name(output: Path) -> Path:
    """Where ``output`` is written until complete (hidden, beside it)."""
    return output.with_name(f".{output.name}.partial")


class Progress:
    """Lines done, templates found, lines/s, on stderr every few seconds and at the end."""

    def __init__(self, stream: IO[str], every: float, report: BackfillReport,
                 started: float) -> None:
        self.stream, self.every, self.report = stream, every, report
        self.started, self.last = started, time.perf_counter()
        self.templates: set[str] = set()

    def update(self, block: pa.Table) -> None:
        import pyarrow.compute as pc

        if self.report.first_block_seconds is None:
            self.report.first_block_seconds = time.perf_counter() - self.started
        self.report.lines += block.num_rows
        self.templates.update(pc.unique(block["template"]).drop_null().to_pylist())
        self.report.templates = len(self.templates)
        if time.perf_counter() - self.last >= self.every:
            self._print()

    def done(self) -> None:
        self._print()

    def _print(self) -> None:
        self.last = time.perf_counter()
        seconds = max(self.last - self.started, 1e-9)
        print(f"backfill: {self.report.lines:,} lines, {self.report.templates:,} templates, "
              f"{self.report.lines / seconds:,.0f} lines/s", file=self.stream, flush=True)


class Outputs:
    """The output files, written in input order: a block goes to its input's file; an input
    is complete (renamed into place) once a block of a later input, or the end, arrives."""

    def __init__(self, jobs: list[Job], output_format: str, report: BackfillReport) -> None:
        self.jobs, self.format, self.report = jobs, output_format, report
        self.next = 0  # the first job not yet opened
        self.current: _OutputFile | None = None

    def add(self, block: pa.Table) -> None:
        files = block["file"].to_numpy()
        cuts = [0, *(i + 1 for i in (files[1:] != files[:-1]).nonzero()[0]), len(files)]
        for start, stop in zip(cuts, cuts[1:], strict=False):
            self._switch_to(int(files[start]))
            assert self.current is not None
            self.current.write(block.slice(start, stop - start))

    def finish(self) -> None:
        self._switch_to(len(self.jobs))

    def abandon(self) -> None:
        if self.current is not None:
            self.current.close()  # left as a .partial, which the next run overwrites

    def _switch_to(self, index: int) -> None:
        if self.current is not None and self.current.job.index == index:
            return
        if self.current is not None and self.current.job.index > index:
            raise RuntimeError(f"blocks out of order: input {index} after "
                               f"{self.current.job.index}")
        while True:
            if self.current is not None:
                self.current.complete()
                self.report.written.append(str(self.current.job.output))
                self.current = None
            if self.next >= min(index + 1, len(self.jobs)):
                return
            self.current = _OutputFile(self.jobs[self.next], self.format)
            self.next += 1
            if self.current.job.index == index:
                return


class _OutputFile:
    """One output under ``.NAME.partial`` until :meth:`complete` renames it."""

    def __init__(self, job: Job, output_format: str) -> None:
        self.job = job
        self.partial = partial_name(job.output)
        self.format = output_format
        self._file = open(self.partial, "wb")  # noqa: SIM115  # closed in complete/close
        self._parquet: Any = None
        if output_format == "parquet":
            import pyarrow.parquet as pq

            self._parquet = pq.ParquetWriter(self._file, verdict_schema())

    def write(self, block: pa.Table) -> None:
        if self._parquet is not None:
            self._parquet.write_table(block.select(list(VERDICT_COLUMNS)))
        else:
            _write_strings(self._file, block["line"])

    def complete(self) -> None:
        self.close()
        os.replace(self.partial, self.job.output)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def _write_strings(file: IO[bytes], column: pa.ChunkedArray) -> None:
    """Writes the UTF-8 of a string column's values back to back, straight from its Arrow
    buffers (no Python string per row)."""
    for chunk in column.chunks:
        if not len(chunk):
            continue
        _, offsets, data = chunk.buffers()
        bounds = np.frombuffer(offsets, dtype=np.int32)[chunk.offset: chunk.offset + len(chunk) + 1]
        file.write(memoryview(data)[int(bounds[0]): int(bounds[-1])])
