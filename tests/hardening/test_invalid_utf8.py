"""Bodies with invalid UTF-8, for any bytes: the CSV upload answers 400 naming the encoding
(never a 5xx, never a half-classified file); sidecar NDJSON keeps every event, with the bad
bytes replaced, and answers valid UTF-8."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.main import create_app
from tests.hardening.conftest import SyncApp, offline_settings, running

# Byte sequences that are never valid UTF-8 wherever they appear.
INVALID = st.sampled_from([b"\xff", b"\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80",
                           b"\x80", b"\xe2\x82", b"\xf4\x90\x80\x80"])  # fmt: skip
PLAIN = st.text(st.characters(blacklist_characters='\r\n",', codec="utf-8"), max_size=30)
JSON_SAFE = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters='"\\'), max_size=30
)
FIXTURE_SETTINGS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def poisoned(text: str, bad: bytes, at: int) -> bytes:
    """``text`` encoded, with ``bad`` inserted between two of its characters."""
    at = min(at, len(text))
    return text[:at].encode() + bad + text[at:].encode()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncApp]:
    settings = offline_settings(tmp_path_factory.mktemp("utf8"))
    with running(create_app(settings)) as app:
        yield app


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncApp]:
    settings = offline_settings(tmp_path_factory.mktemp("utf8-sidecar"))
    with running(create_app(settings)) as app:
        yield app


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_SETTINGS)
@given(st.lists(PLAIN, min_size=1, max_size=5), INVALID, st.integers(0, 4), st.integers(0, 40))
def test_csv_with_invalid_utf8_is_a_400_naming_the_encoding(service, lines, bad, row, at):
    rows = [f"App,{line}\n".encode() for line in lines]
    row = min(row, len(rows) - 1)
    rows[row] = poisoned(rows[row].decode(), bad, at)
    body = b"source,log_message\n" + b"".join(rows)
    response = service.request("POST", "/api/v1/classify/csv", files={"file": ("l.csv", body)})
    assert response.status_code == 400, response.text
    assert "not valid UTF-8" in response.json()["detail"]


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURE_SETTINGS)
@given(st.integers(20, 40_000), INVALID, st.booleans())
def test_csv_decode_error_names_the_byte_of_the_file_not_of_its_8kb_chunk(
    service, at, bad, bom
):
    rows = "".join(f"App,line {i} with é and ✓ in it\n" for i in range(1_500)).encode()
    text = ("\ufeff" if bom else "").encode() + b"source,log_message\n" + rows
    at = min(at, len(text))
    while at < len(text) and text[at] & 0xC0 == 0x80:  # between two characters
        at += 1
    body = text[:at] + bad + text[at:]
    response = service.request("POST", "/api/v1/classify/csv", files={"file": ("l.csv", body)})
    assert response.status_code == 400
    with pytest.raises(UnicodeDecodeError) as where:
        body.decode("utf-8")
    named = re.search(r"not valid UTF-8 \(byte (\d+) of the file\)", response.json()["detail"])
    assert named and int(named.group(1)) == where.value.start


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_SETTINGS)
@given(st.binary(max_size=300))
def test_csv_upload_of_any_bytes_is_answered_without_a_5xx(service, data):
    response = service.request("POST", "/api/v1/classify/csv", files={"file": ("l.csv", data)})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:  # then every row came back, classified
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0][-3:] == ["target_label", "confidence", "tier"]


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_SETTINGS)
@given(st.lists(st.tuples(JSON_SAFE, st.one_of(st.none(), INVALID), st.integers(0, 40)),
                min_size=1, max_size=8))  # fmt: skip
def test_ndjson_with_invalid_utf8_keeps_every_event_and_answers_utf8(sidecar, events):
    lines = [
        b'{"program": "app", "message": "' + poisoned(text, bad or b"", at) + b'"}'
        for text, bad, at in events
    ]
    body = b"\n".join(lines) + b"\n"
    response = sidecar.request(
        "POST", "/api/v1/ingest", content=body, headers={"content-type": "application/x-ndjson"}
    )
    assert response.status_code == 200, response.text
    out = response.content.decode("utf-8")  # raises if the answer is not valid UTF-8
    enriched = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(enriched) == len(events)
    assert all("log_class" in event for event in enriched)
