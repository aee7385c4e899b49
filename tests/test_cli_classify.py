"""``logclass classify``: the reason column, every input format, and the parallel path that
gives the one-process path's output with memory bounded by the chunks in flight."""

from __future__ import annotations

import csv
import gzip
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app import cli_classify
from app.cli import main
from app.cli_classify import classify_file, classify_in_parallel
from app.inputs import Chunk
from app.settings import Settings
from processors.pipeline import Classifier
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from tests.conftest import LOGHUB


@pytest.fixture
def rules_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The shipped rules with no model tier: fast, and what the masking processes do."""
    text = DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8")
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text[: text.index("\nroutes:")] + "\nroutes:\n  default: [regex]\n",
                    encoding="utf-8")
    monkeypatch.setenv("LOGCLASS_TAXONOMY", str(path))
    monkeypatch.setenv("LOGCLASS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LOGCLASS_LLM_BASE_URL", raising=False)
    return Settings()


def loghub_lines(per_system: int) -> list[tuple[str, str]]:
    if not LOGHUB.is_dir():
        pytest.skip("../shared/data/loghub is absent")
    lines = []
    for path in sorted(LOGHUB.glob("*_structured.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))[:per_system]
        lines += [(path.name.split("_")[0], row["Content"]) for row in rows]
    return lines


def write_csv(path: Path, lines: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "source", "log_message"])
        writer.writerows([str(i), source, message] for i, (source, message) in enumerate(lines))
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_output_keeps_the_columns_and_adds_the_reason(rules_only: Settings, tmp_path: Path
                                                      ) -> None:
    data = write_csv(tmp_path / "in.csv", [("app", "User bob logged in"), ("app", "  "),
                                           ("app", "something new happened")])
    assert main(["classify", str(data), "-o", str(tmp_path / "out.csv")]) == 0
    rows = read_csv(tmp_path / "out.csv")
    assert list(rows[0]) == ["id", "source", "log_message", "target_label", "confidence",
                             "tier", "reason"]
    assert [(r["target_label"], r["tier"], r["reason"]) for r in rows] == [
        ("User Action", "regex", ""), ("Unclassified", "none", "empty_line"),
        ("Unclassified", "none", "no_model_tier")]


def test_text_and_ndjson_inputs_come_out_as_source_and_message(rules_only: Settings,
                                                               tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson.gz"
    events.write_bytes(gzip.compress("\n".join([
        json.dumps({"msg": "User amy logged out", "service": "sso"}),
        '{"broken', json.dumps({"service": "sso"})]).encode()))
    classify_file(str(events), str(tmp_path / "out.csv"), rules_only, jobs=1)
    rows = read_csv(tmp_path / "out.csv")
    assert list(rows[0])[:2] == ["source", "log_message"]
    assert [(r["source"], r["target_label"], r["reason"]) for r in rows] == [
        ("sso", "User Action", ""), ("default", "Unclassified", "malformed_event"),
        ("sso", "Unclassified", "no_message")]


def test_parallel_masking_writes_what_one_process_writes(rules_only: Settings,
                                                         tmp_path: Path) -> None:
    lines = loghub_lines(400) + [("app", ""), ("app", "API deprecated " + "x" * 9_000)]
    data = write_csv(tmp_path / "in.csv", lines)
    classify_file(str(data), str(tmp_path / "one.csv"), rules_only, jobs=1, chunk_lines=300)
    classify_file(str(data), str(tmp_path / "two.csv"), rules_only, jobs=2, chunk_lines=300)
    one, two = (tmp_path / "one.csv").read_text(), (tmp_path / "two.csv").read_text()
    assert one == two and len(read_csv(tmp_path / "two.csv")) == len(lines)
    assert read_csv(tmp_path / "two.csv")[-1]["reason"] == "truncated"  # over 8192 chars


async def test_reading_never_runs_more_than_the_chunks_in_flight_ahead(rules_only: Settings
                                                                       ) -> None:
    read, written, ahead = [0], [0], []
    lock = threading.Lock()

    def chunks():
        for i in range(40):
            with lock:
                read[0] += 1
                ahead.append(read[0] - written[0])
            yield Chunk([""] * 10, [f"event {i} line {j}" for j in range(10)], [None] * 10)

    def write(chunk: Chunk, verdicts: list) -> None:
        assert [v.template for v in verdicts] == ["event <NUM> line <NUM>"] * 10
        written[0] += 1

    cli_classify._load_rules(str(rules_only.taxonomy), rules_only.max_line_chars)
    classifier = Classifier(Taxonomy.load(rules_only.taxonomy))
    with ThreadPoolExecutor(2) as pool:
        await classify_in_parallel(classifier, chunks(), pool, write, in_flight=3)
    assert written[0] == 40 and max(ahead) <= 3


@pytest.mark.slow
def test_with_the_model_parallel_and_one_process_agree(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOGCLASS_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("LOGCLASS_TAXONOMY", raising=False)
    data = write_csv(tmp_path / "in.csv", loghub_lines(250))
    settings = Settings(cache_dir=tmp_path / "cache")
    classify_file(str(data), str(tmp_path / "two.csv"), settings, jobs=2, chunk_lines=500)
    # the same cache: the model tiers' answers are served again, the rest is recomputed
    classify_file(str(data), str(tmp_path / "one.csv"), settings, jobs=1)
    two = read_csv(tmp_path / "two.csv")
    assert two == read_csv(tmp_path / "one.csv")
    assert {row["tier"] for row in two} >= {"regex", "bert"}


def test_jobs_default_to_the_cores_and_small_inputs_start_no_pool(rules_only: Settings,
                                                                   tmp_path: Path,
                                                                   monkeypatch) -> None:
    started = []
    monkeypatch.setattr(cli_classify, "masking_pool", lambda *a: started.append(a))
    data = write_csv(tmp_path / "in.csv", [("app", "User bob logged in")] * 10)
    classify_file(str(data), str(tmp_path / "out.csv"), rules_only, chunk_lines=5)
    assert started == [] and len(read_csv(tmp_path / "out.csv")) == 10
