"""``logclass backfill`` on a local Ray with 2 CPUs: every line once, in order, labelled as
the service labels it; gzip, NDJSON and CSV inputs; a re-run skips what is complete."""

from __future__ import annotations

import asyncio
import csv
import gzip
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.backfill import BackfillOptions, backfill
from app.cli import main
from app.cli_classify import with_notes
from app.inputs import InputError, LogReader, detect_format, open_binary
from app.settings import Settings
from app.sidecar.events import EventFields
from processors.pipeline import Classifier
from processors.records import LogRecord
from tests.conftest import LOGHUB

ray = pytest.importorskip("ray", reason="backfill needs the [backfill] extra (Ray Data)")
pytestmark = pytest.mark.slow

# small shards and blocks, so that a few thousand lines make several of each
SMALL = {"shard_bytes": 48 * 1024, "block_bytes": 16 * 1024}


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One Ray for the module (starting one takes seconds); backfill uses it as it is."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR)
    yield
    ray.shutdown()


def settings_in(folder: Path) -> Settings:
    """The shipped pipeline (BERT loads offline), no LLM, a cache of its own."""
    return Settings(cache_dir=folder, llm_base_url=None)


def loghub_contents(per_system: int) -> list[tuple[str, str]]:
    if not LOGHUB.is_dir():
        pytest.skip("../shared/data/loghub is absent")
    lines = []
    for path in sorted(LOGHUB.glob("*_structured.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            lines += [(path.name.split("_")[0], row["Content"])
                      for row in list(csv.DictReader(f))[:per_system]]
    return lines


def expected_verdicts(paths: list[Path], settings: Settings) -> list[list[dict]]:
    """What the service's classifier says about the records of each of ``paths``, in order."""
    chunks_per_path = []
    for path in paths:
        with open_binary(path) as stream:
            reader = LogReader(stream, detect_format(path, stream), str(path),
                               EventFields.from_settings(settings))
            chunks_per_path.append(list(reader.chunks(10_000)))

    async def classify() -> list[list[dict]]:
        classifier = Classifier.from_settings(settings)
        try:
            result = []
            for chunks in chunks_per_path:
                verdicts = []
                for chunk in chunks:
                    records = [LogRecord(s, m) for s, m in zip(chunk.sources, chunk.messages,
                                                               strict=True)]
                    verdicts += with_notes(await classifier.classify(records), chunk.notes)
                result.append([v.as_dict() for v in verdicts])
            return result
        finally:
            await classifier.aclose()

    return asyncio.run(classify())


def test_every_line_comes_out_once_in_order_with_the_service_label(local_ray, tmp_path: Path
                                                                   ) -> None:
    lines = loghub_contents(300)  # 2,400 lines of 8 systems
    half = len(lines) // 2
    inputs = tmp_path / "in"
    inputs.mkdir()
    text = "\n".join(message for _, message in lines[:half])
    (inputs / "a.log").write_text(text.replace("\n", "\n\n", 3), encoding="utf-8")
    events = [json.dumps({"message": message, "service": source}) for source, message in lines]
    events[5:7] = ['{"message": "cut short', json.dumps({"service": "x"})]
    (inputs / "b.ndjson.gz").write_bytes(gzip.compress("\n".join(events).encode()))
    with (inputs / "c.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("source", "log_message", "extra"),
                                 *((s, m, "1") for s, m in lines[half:])])
    (inputs / "d.csv.gz").write_bytes(gzip.compress((inputs / "c.csv").read_bytes()))

    report = backfill([str(inputs)], tmp_path / "out", settings_in(tmp_path / "cache"),
                      BackfillOptions(**SMALL))

    names = ["a.log.jsonl", "b.ndjson.jsonl", "c.csv.jsonl", "d.csv.jsonl"]
    assert sorted(Path(p).name for p in report.written) == names
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names  # no .partial left
    total = 0
    expected = expected_verdicts(sorted(inputs.iterdir()), settings_in(tmp_path / "service"))
    for name, want in zip(names, expected, strict=True):
        got = [json.loads(line) for line in (tmp_path / "out" / name).open(encoding="utf-8")]
        assert len(got) == len(want) > 1000, name
        for row, verdict in zip(got, want, strict=True):
            assert list(row) == ["label", "confidence", "tier", "template", "reason"]
            assert (row["label"], row["tier"], row["template"], row["reason"]) == (
                verdict["label"], verdict["tier"], verdict["template"], verdict["reason"]), name
            assert row["confidence"] == pytest.approx(verdict["confidence"], abs=1e-4)
        total += len(got)
    assert report.lines == total and 100 < report.templates < total
    b = [json.loads(line) for line in (tmp_path / "out" / "b.ndjson.jsonl").open()]
    assert [row["reason"] for row in b[5:7]] == ["malformed_event", "no_message"]
    assert {row["tier"] for row in b} >= {"regex", "bert"}


def test_a_rerun_skips_complete_outputs_and_redoes_the_rest(local_ray, tmp_path: Path,
                                                            capsys) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "out"
    out.mkdir()
    for name in ("x.log", "y.log", "z.log"):
        # lines the rules decide: this test needs no model
        (tmp_path / name).write_text("User bob logged in\nBackup completed successfully\n" * 500)
    (out / "x.log.parquet").write_bytes(b"complete from the run that crashed")
    (out / ".y.log.parquet.partial").write_bytes(b"half written when it crashed")
    (tmp_path / "empty.log").write_bytes(b"")
    sources = [str(tmp_path / n) for n in ("x.log", "y.log", "empty.log", "z.log")]

    options = BackfillOptions(output_format="parquet", **SMALL)
    report = backfill(sources, out, settings_in(tmp_path / "cache"), options)

    assert report.skipped == [sources[0]] and len(report.written) == 3
    assert (out / "x.log.parquet").read_bytes() == b"complete from the run that crashed"
    assert sorted(p.name for p in out.iterdir()) == [
        "empty.log.parquet", "x.log.parquet", "y.log.parquet", "z.log.parquet"]
    for name, rows in (("y.log.parquet", 1000), ("z.log.parquet", 1000),
                       ("empty.log.parquet", 0)):
        table = pq.read_table(out / name)
        assert table.num_rows == rows and table.column_names == [
            "label", "confidence", "tier", "template", "reason"]
    assert pq.read_table(out / "y.log.parquet").column("label").to_pylist()[:1] == [
        "User Action"]
    assert "lines/s" in capsys.readouterr().err  # progress on stderr

    again = backfill(sources, out, settings_in(tmp_path / "cache"), options)  # no Ray work
    assert again.skipped == sources and again.written == [] and again.lines == 0


def test_a_run_that_stops_midway_keeps_no_partial_output_and_a_rerun_finishes(
        local_ray, tmp_path: Path) -> None:
    good, broken = tmp_path / "good.log", tmp_path / "late.csv"
    good.write_text("User bob logged in\n" * 3000)
    rows = ["log_message"] + ["Backup completed successfully"] * 3000
    broken.write_text("\n".join([*rows, "a,b,c"]) + "\n")  # a broken row near the end
    settings, out = settings_in(tmp_path / "cache"), tmp_path / "out"
    with pytest.raises(InputError, match=r"late.csv: row ending on line 3002 has 3 fields"):
        backfill([str(good), str(broken)], out, settings, BackfillOptions(**SMALL))
    assert not (out / "late.csv.jsonl").exists()

    broken.write_text("\n".join(rows) + "\n")
    report = backfill([str(good), str(broken)], out, settings, BackfillOptions(**SMALL))
    assert sorted(p.name for p in out.iterdir()) == ["good.log.jsonl", "late.csv.jsonl"]
    assert [len((out / n).read_text().splitlines()) for n in ("good.log.jsonl",
                                                              "late.csv.jsonl")] == [3000, 3000]
    assert str(out / "late.csv.jsonl") in report.written


def test_an_input_that_cannot_be_read_stops_before_any_work(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("source,message\nweb,x\n")
    with pytest.raises(InputError, match="has no 'log_message' column"):
        backfill([str(bad)], tmp_path / "out", settings_in(tmp_path / "cache"))
    assert main(["backfill", str(tmp_path / "missing.log"), "--out", str(tmp_path)]) == 2
    assert "missing.log: no such file or folder" in capsys.readouterr().err
