"""Reading inputs for classify and backfill: formats, gzip, notes, shards, bounded chunks."""

from __future__ import annotations

import gzip
import io
import json
import random
from pathlib import Path

import pytest

from app.inputs import (
    InputError,
    LogReader,
    Shard,
    detect_format,
    open_binary,
    plan_shards,
    read_shard,
)
from app.sidecar.events import EventFields


def records(path: Path, fmt: str | None = None, **fields) -> list[tuple[str, str, str | None]]:
    with open_binary(path) as stream:
        reader = LogReader(stream, fmt or detect_format(path, stream), str(path),
                           EventFields(**fields))
        return [(s, m, n) for chunk in reader.chunks(3)
                for s, m, n in zip(chunk.sources, chunk.messages, chunk.notes, strict=True)]


def test_text_is_one_record_per_line_blank_lines_included(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    # a BOM, CRLF, a blank line, a byte that is not UTF-8, U+2028 (inside a line, not an end)
    path.write_bytes("\ufefffirst\r\n\nthird ".encode() + b"\xff"
                     + " end\u2028\n  \nlast without newline".encode())
    assert [m for _, m, _ in records(path)] == [
        "first", "", "third \ufffd end\u2028", "  ", "last without newline"]
    assert {s for s, _, _ in records(path)} == {"default"}


def test_gzip_is_recognised_by_its_bytes_whatever_the_name(tmp_path: Path) -> None:
    path = tmp_path / "rotated.1"
    path.write_bytes(gzip.compress(b"one\ntwo\n"))
    assert [m for _, m, _ in records(path)] == ["one", "two"]


def test_ndjson_reads_the_ingest_keys_and_notes_what_is_not_an_event(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson.gz"
    lines = [json.dumps({"msg": "disk full", "service": "db"}),
             '{"message": "cut', "",
             json.dumps({"service": "web", "level": "info"}),
             json.dumps([1, 2]),
             json.dumps({"log": 42, "kubernetes": {"container_name": "api"}})]
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    assert records(path) == [
        ("db", "disk full", None),
        ("default", '{"message": "cut', "malformed_event"),
        ("default", "", None),
        ("web", "", "no_message"),
        ("default", "[1, 2]", "malformed_event"),
        ("api", "42", None),
    ]


def test_csv_keeps_its_columns_and_quoted_rows_that_span_lines(tmp_path: Path) -> None:
    path = tmp_path / "logs.csv"
    path.write_text('id,source,log_message\n1,web,"two\nlines"\n\n2,,plain\n', encoding="utf-8")
    with open_binary(path) as stream:
        reader = LogReader(stream, "csv", str(path))
        chunk = next(reader.chunks(10, keep_rows=True))
    assert reader.header == ["id", "source", "log_message"]
    assert chunk.messages == ["two\nlines", "plain"] and chunk.sources == ["web", ""]
    assert chunk.rows == [["1", "web", "two\nlines"], ["2", "", "plain"]]


@pytest.mark.parametrize(("body", "message"), [
    ("", "the CSV is empty"),
    ("source,message\nweb,x\n", "has no 'log_message' column"),
    ("log_message,x\nfine,1\nbad\n", "row ending on line 3 has 1 fields, the header has 2"),
])
def test_a_csv_that_cannot_be_read_says_where_and_why(tmp_path: Path, body: str,
                                                       message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError, match=message) as error:
        records(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(("name", "first_line", "expected"), [
    ("a.csv.gz", "anything", "csv"),
    ("a.jsonl", "plain words", "ndjson"),
    ("container-json.log", '{"log": "x", "stream": "stdout"}', "ndjson"),
    ("export.txt", "source,log_message", "csv"),
    ("syslog", "Dec  1 10:00:00 host sshd[1]: {weird} text", "text"),
    ("syslog", '{"not": "closed', "text"),
])
def test_the_format_comes_from_the_name_else_the_first_line(tmp_path: Path, name: str,
                                                            first_line: str,
                                                            expected: str) -> None:
    path = tmp_path / name
    path.write_text("\n" + first_line + "\nmore\n", encoding="utf-8")
    with open_binary(path) as stream:
        assert detect_format(path, stream) == expected
        assert stream.read(1) == b"\n"  # only peeked


def test_shards_yield_every_line_exactly_once_in_order(tmp_path: Path) -> None:
    rng = random.Random(7)
    lines = ["x" * rng.choice([0, 1, 2, 5, 17, 40]) + str(i) for i in range(400)]
    lines[10] = ""  # blank lines are records too
    path = tmp_path / "big.log"
    path.write_text("\n".join(lines), encoding="utf-8")  # no newline at the very end
    for shard_bytes in (1, 2, 7, 64, 1000):
        shards = plan_shards(path, "text", shard_bytes)
        read = [m for shard in shards for chunk in read_shard(shard, EventFields(), 50)
                for m in chunk.messages]
        assert read == lines, shard_bytes
    assert len(plan_shards(path, "text", 1000)) > 1


def test_gzip_and_csv_are_never_cut(tmp_path: Path) -> None:
    gz = tmp_path / "a.log.gz"
    gz.write_bytes(gzip.compress(b"a\n" * 1000))
    csv_path = tmp_path / "b.csv"
    csv_path.write_text("log_message\n" + "a\n" * 1000, encoding="utf-8")
    assert plan_shards(gz, "text", 10) == [Shard(str(gz), "text")]
    assert plan_shards(csv_path, "csv", 10) == [Shard(str(csv_path), "csv")]


def test_chunks_are_bounded_by_lines_and_by_characters(tmp_path: Path) -> None:
    reader = LogReader(io.BufferedReader(io.BytesIO(b"aaaa\n" * 10)), "text", "-")  # type: ignore[arg-type]
    assert [len(c) for c in reader.chunks(4, max_chars=10)] == [3, 3, 3, 1]
