"""Log files as ``logclass classify`` and ``logclass backfill`` read them, in bounded chunks.

Formats (``FORMATS``), each plain or gzip (found by its magic bytes, not its name):

- ``text``: one record per line, blank lines included, so output row *k* is input line *k*;
  lines end at ``\\n`` (a ``\\r`` before it is dropped); the source is the ingest default.
- ``ndjson``: one JSON object per line; message and source are read with the ingest keys
  (``LOGCLASS_INGEST_MESSAGE_KEYS`` …). A line that is not a JSON object is classified as
  text with note ``malformed_event``; an object without a message gets note ``no_message``;
  a blank line is an empty record. Again one record per line.
- ``csv``: a header with ``log_message`` (``source`` optional, other columns kept), one
  record per row; quoted fields may span lines; blank lines are not records.

Invalid UTF-8 becomes U+FFFD (as the ingest endpoints do): one bad byte in an archive must
not stop a backfill. A plain ``text`` or ``ndjson`` file can be cut into byte ranges
(:func:`plan_shards`) that tasks read independently: every line belongs to exactly the
range its first byte falls in, so together the ranges yield each line exactly once.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from app.sidecar.events import MALFORMED_EVENT, NO_MESSAGE, EventFields

__all__ = [
    "FORMATS",
    "Chunk",
    "Format",
    "InputError",
    "LogReader",
    "Shard",
    "detect_format",
    "open_binary",
    "plan_shards",
    "read_shard",
]

Format = Literal["text", "ndjson", "csv"]
FORMATS: tuple[Format, ...] = ("text", "ndjson", "csv")
TEXT_COLUMNS = ["source", "log_message"]  # what classify writes back for text and NDJSON
_GZIP_MAGIC = b"\x1f\x8b"
_SUFFIXES: dict[str, Format] = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}


class InputError(ValueError):
    """An input cannot be read as asked; the message names the file, the place and why."""


@dataclass(slots=True)
class Chunk:
    """Consecutive records of one input, as columns.

    ``notes`` is ``malformed_event`` / ``no_message`` where the record's verdict must carry
    that reason, else None. ``rows`` (only when asked for) are the cells to write back: a
    CSV row as it was, or ``[source, message]``.
    """

    sources: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    notes: list[str | None] = field(default_factory=list)
    rows: list[list[str]] | None = None

    def __len__(self) -> int:
        return len(self.messages)


@dataclass(frozen=True, slots=True)
class Shard:
    """Part of one input: the lines that start in bytes ``[start, end)`` (``end=None``:
    to the end of the file). A gzip or CSV file is always one shard."""

    path: str
    format: Format
    start: int = 0
    end: int | None = None


def open_binary(path: str | Path, stdin: IO[bytes] | None = None) -> IO[bytes]:
    """A buffered binary stream of the input's bytes, gunzipped when they are gzip.
    ``-`` reads ``stdin`` (the process's by default)."""
    if str(path) == "-":
        raw: IO[bytes] = stdin if stdin is not None else sys.stdin.buffer
        buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]
    else:
        try:
            buffered = open(path, "rb", buffering=1 << 20)  # noqa: SIM115  # the caller closes
        except OSError as exc:
            raise InputError(f"{path}: cannot read it ({exc.strerror})") from exc
    if buffered.peek(2)[:2] == _GZIP_MAGIC:
        return io.BufferedReader(gzip.GzipFile(fileobj=buffered, mode="rb"), 1 << 20)  # type: ignore[arg-type]
    return buffered


def detect_format(path: str | Path, stream: IO[bytes], forced: str | None = None) -> Format:
    """The format of an input: ``forced`` unless None or ``auto``; else from its name
    (``.csv``, ``.ndjson``, ``.jsonl``, before any ``.gz``); else from its first non-blank
    line: a JSON object is NDJSON (Docker's ``*-json.log`` too), a CSV header with
    ``log_message`` is CSV, anything else is text. Only peeks: the stream still starts at
    its first byte."""
    if forced and forced != "auto":
        if forced not in FORMATS:
            raise InputError(f"unknown input format {forced!r}; use one of {FORMATS}")
        return forced  # type: ignore[return-value]  # checked just above
    name = Path(str(path)).name.lower().removesuffix(".gz")
    suffix = Path(name).suffix
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    head = stream.peek(64 * 1024)[: 64 * 1024] if hasattr(stream, "peek") else b""
    for raw in head.splitlines():
        line = raw.decode("utf-8", "replace").lstrip("\ufeff").strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                if isinstance(json.loads(line), dict):
                    return "ndjson"
            except ValueError:
                pass
        cells = next(csv.reader([line]), [])
        return "csv" if "log_message" in (cell.strip() for cell in cells) else "text"
    return "text"


def plan_shards(path: str | Path, fmt: Format, shard_bytes: int) -> list[Shard]:
    """Byte ranges of ``shard_bytes`` or so for a plain text or NDJSON file, one shard for a
    gzip or CSV file (neither can be entered in the middle)."""
    path = str(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        gzipped = f.read(2) == _GZIP_MAGIC
    if fmt == "csv" or gzipped or size <= shard_bytes:
        return [Shard(path, fmt)]
    starts = list(range(0, size, shard_bytes))
    return [Shard(path, fmt, start, start + shard_bytes if start + shard_bytes < size else None)
            for start in starts]


class LogReader:
    """Reads one input stream of a known format in chunks of at most ``size`` records.

    ``header`` is what classify writes back: the CSV's header, else ``source, log_message``.
    ``limit`` (bytes, plain streams only) stops before the first line that starts at or past
    it, relative to where the stream is.
    """

    def __init__(self, stream: IO[bytes], fmt: Format, name: str,
                 fields: EventFields | None = None, limit: int | None = None,
                 strip_bom: bool = True) -> None:
        self.name = name
        self.format = fmt
        self.fields = fields or EventFields()
        self._stream = stream
        self._limit = limit
        self._strip_bom = strip_bom
        self._csv: Any = None  # the csv.reader, once the header is read
        self.header = list(TEXT_COLUMNS)
        if fmt == "csv":
            self._open_csv()

    def chunks(self, size: int, max_chars: int | None = None, keep_rows: bool = False
               ) -> Iterator[Chunk]:
        """Chunks of up to ``size`` records (or the first that reach ``max_chars`` characters
        of messages), in order; none is empty."""
        chunk, chars = Chunk(rows=[] if keep_rows else None), 0
        max_chars = max_chars or sys.maxsize
        for source, message, note, row in self._records():
            chunk.sources.append(source)
            chunk.messages.append(message)
            chunk.notes.append(note)
            if chunk.rows is not None:
                chunk.rows.append(row)
            chars += len(message)
            if len(chunk) >= size or chars >= max_chars:
                yield chunk
                chunk, chars = Chunk(rows=[] if keep_rows else None), 0
        if len(chunk):
            yield chunk

    # -- per format ---------------------------------------------------------------------

    def _records(self) -> Iterator[tuple[str, str, str | None, list[str]]]:
        if self.format == "csv":
            return self._csv_records()
        if self.format == "ndjson":
            return self._ndjson_records()
        return self._text_records()

    def _lines(self) -> Iterator[str]:
        """Decoded lines without their line ending, up to ``limit`` bytes of line starts."""
        position, limit = 0, self._limit
        first = self._strip_bom
        for raw in self._stream:
            if limit is not None and position >= limit:
                return
            position += len(raw)
            line = raw.decode("utf-8", "replace")
            if line.endswith("\n"):
                line = line[:-2] if line.endswith("\r\n") else line[:-1]
            if first:
                line, first = line.removeprefix("\ufeff"), False
            yield line

    def _text_records(self) -> Iterator[tuple[str, str, str | None, list[str]]]:
        source = self.fields.default_source
        for line in self._lines():
            yield source, line, None, [source, line]

    def _ndjson_records(self) -> Iterator[tuple[str, str, str | None, list[str]]]:
        fields, default = self.fields, self.fields.default_source
        for line in self._lines():
            if not line.strip():
                yield default, "", None, [default, ""]
                continue
            try:
                event = json.loads(line)
            except (ValueError, RecursionError):
                event = None
            if not isinstance(event, dict):
                yield default, line, MALFORMED_EVENT, [default, line]
                continue
            source = fields.source_of(event)
            message = fields.message_of(event)
            if message is None:
                yield source, "", NO_MESSAGE, [source, ""]
            else:
                yield source, message, None, [source, message]

    def _open_csv(self) -> None:
        text = io.TextIOWrapper(self._stream, encoding="utf-8-sig", errors="replace",  # type: ignore[type-var]
                                newline="")
        reader = csv.reader(text, strict=True)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise InputError(f"{self.name}: malformed CSV header: {exc}") from exc
        if header is None:
            raise InputError(f"{self.name}: the CSV is empty: expected a header row with a "
                             "'log_message' column")
        self.header = [name.strip() for name in header]
        if "log_message" not in self.header:
            raise InputError(f"{self.name}: the CSV header {self.header} has no 'log_message' "
                             "column")
        self._csv = reader

    def _csv_records(self) -> Iterator[tuple[str, str, str | None, list[str]]]:
        reader, header = self._csv, self.header
        message_at = header.index("log_message")
        source_at = header.index("source") if "source" in header else None
        try:
            for row in reader:
                if not row:
                    continue  # a blank line is not a record
                if len(row) != len(header):
                    raise InputError(f"{self.name}: row ending on line {reader.line_num} has "
                                     f"{len(row)} fields, the header has {len(header)}")
                source = row[source_at] if source_at is not None else ""
                yield source, row[message_at], None, row
        except csv.Error as exc:
            raise InputError(f"{self.name}: malformed CSV near line {reader.line_num}: {exc}"
                             ) from exc


def read_shard(shard: Shard, fields: EventFields, size: int, max_chars: int | None = None
               ) -> Iterator[Chunk]:
    """The records of one shard in chunks (see :meth:`LogReader.chunks`), for backfill's
    read tasks."""
    stream = open_binary(shard.path)
    try:
        limit = None
        if shard.start:
            stream.seek(shard.start - 1)
            stream.readline()  # the line that holds byte start-1 belongs to the shard before
        if shard.end is not None:
            limit = shard.end - stream.tell()
        reader = LogReader(stream, shard.format, shard.path, fields, limit,
                           strip_bom=shard.start == 0)
        yield from reader.chunks(size, max_chars)
    finally:
        stream.close()
