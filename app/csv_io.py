"""CSV in and out for the upload endpoint and the CLI.

Input: a header with a ``log_message`` column (``source`` optional, other columns kept),
UTF-8 with or without a BOM, quoted fields with commas and newlines. Output: the same
columns plus ``target_label``, ``confidence``, ``tier``, every cell made safe against
formula injection when the file is opened in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import IO

from processors.records import LogRecord, Verdict

ADDED_COLUMNS = ("target_label", "confidence", "tier")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CsvError(ValueError):
    """The CSV cannot be classified; the message says which row and why."""


def safe_cell(value: str) -> str:
    """Neutralise a cell a spreadsheet would run as a formula (OWASP: prefix a quote)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def read_table(stream: IO[str], max_rows: int) -> tuple[list[str], list[list[str]]]:
    """Header and rows of ``stream``; raises :class:`CsvError` on anything malformed."""
    reader = csv.reader(stream, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise CsvError("the CSV is empty: expected a header row with a 'log_message' column")
        header = [name.strip() for name in header]
        if "log_message" not in header:
            raise CsvError(f"the CSV header {header} has no 'log_message' column")
        rows: list[list[str]] = []
        for row in reader:
            if not row:
                continue  # a blank line is not a record
            if len(row) != len(header):
                raise CsvError(
                    f"row {reader.line_num} has {len(row)} fields, the header has {len(header)}"
                )
            if len(rows) >= max_rows:
                raise CsvError(f"too many rows: at most {max_rows} per file")
            rows.append(row)
    except csv.Error as exc:
        raise CsvError(f"malformed CSV near line {reader.line_num}: {exc}") from exc
    except UnicodeDecodeError as exc:
        offset = _byte_offset(stream, exc)
        raise CsvError(f"the CSV is not valid UTF-8 (byte {offset} of the file)") from exc
    return header, rows


def _byte_offset(stream: IO[str], exc: UnicodeDecodeError) -> int:
    """Where the bad bytes start in the whole file, counted from 0.

    The decoder only ever sees the chunk just read (8 KB), after the bytes it held back
    from the chunk before; its ``exc.object`` is exactly those bytes, so they end where the
    underlying byte stream now stands. Without a byte stream to ask, the offset within
    the decoded bytes is the best there is.
    """
    try:
        read = stream.buffer.tell()  # type: ignore[attr-defined]  # a TextIOWrapper's
    except (AttributeError, OSError, ValueError):
        return exc.start
    return read - len(exc.object) + exc.start


def records_of(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[LogRecord]:
    message_at = header.index("log_message")
    source_at = header.index("source") if "source" in header else None
    return [
        LogRecord(row[source_at] if source_at is not None else "", row[message_at]) for row in rows
    ]


def output_header(header: Sequence[str]) -> list[str]:
    return [name for name in header if name not in ADDED_COLUMNS] + list(ADDED_COLUMNS)


def render_rows(
    header: Sequence[str], rows: Sequence[Sequence[str]], verdicts: Sequence[Verdict]
) -> str:
    """CSV text for ``rows`` with their verdicts appended (no header)."""
    kept = [i for i, name in enumerate(header) if name not in ADDED_COLUMNS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row, verdict in zip(rows, verdicts, strict=True):
        confidence = "" if verdict.confidence is None else f"{verdict.confidence:.4f}"
        cells = [row[i] for i in kept] + [verdict.label, confidence, verdict.tier]
        writer.writerow([safe_cell(cell) for cell in cells])
    return buffer.getvalue()


def render_header(header: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(
        [safe_cell(name) for name in output_header(header)]
    )
    return buffer.getvalue()


def chunks(items: Sequence[LogRecord], size: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` bounds that cover ``items`` in order, ``size`` at a time."""
    for start in range(0, len(items), size):
        yield start, min(start + size, len(items))
