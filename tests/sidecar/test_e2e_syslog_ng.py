"""End to end with a real syslog-ng: it tails a file and posts batches to a running logclass,
which forwards the enriched events to a recorder. Every line arrives once, in order."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import yaml

from tests.conftest import REPO
from tests.sidecar.recorder import Received
from tests.sidecar.syslog_ng import example_config, running_syslog_ng, syslog_ng_binary

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(syslog_ng_binary() is None, reason="syslog-ng is not installed"),
]

TEMPLATES = [
    ("{t} ERROR Multiple failed login attempts detected for user admin{i} from 10.0.0.{i}",
     "Security Alert"),
    ('{t} INFO nova.osapi_compute.wsgi.server "GET /v2/servers/detail HTTP/1.1" status: 200 '
     "len: 1583 time: 0.19{i}", "HTTP Status"),
    ("{t} CRITICAL Database connection pool exhausted, service unavailable (pool {i})",
     "Critical Error"),
    ("{t} WARNING Disk usage at 9{i}% on /var/lib/data", "Resource Usage"),
    ("{t} INFO User alice{i} logged in successfully", "User Action"),
    ('{t} INFO Backup {i} completed "quoted" and \\backslash\\ and unicode é✓', "Unclassified"),
]  # fmt: skip


def make_lines(start: int, count: int) -> tuple[list[str], list[str]]:
    lines, labels = [], []
    for n in range(start, start + count):
        template, label = TEMPLATES[n % len(TEMPLATES)]
        lines.append(template.format(t=f"2025-06-01 10:{n // 60:02d}:{n % 60:02d}", i=n % 10))
        labels.append(label)
    return lines, labels


def events_of(received: list[Received]) -> list[dict]:
    events: list[dict] = []
    for request in received:
        text = request.body.decode()
        if text.lstrip().startswith("["):
            events.extend(json.loads(text))
        else:
            events.extend(json.loads(line) for line in text.splitlines() if line.strip())
    return events


def has(count: int):
    return lambda received: len(events_of(received)) >= count


@pytest.mark.parametrize(
    ("example", "content_type"),
    [("http-jsonarray.conf", "application/json"), ("http-ndjson.conf", "application/x-ndjson")],
)
def test_every_line_arrives_once_enriched_and_in_order(live, tmp_path, example, content_type):
    lines, labels = make_lines(0, 30)
    log_file = tmp_path / "app.log"
    log_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with running_syslog_ng(example, log_file, f"{live.url}/api/v1/ingest") as sng:
        arrived = live.recorder.wait_for(has(len(lines)), timeout=20)
        assert arrived, (sng / "stderr.log").read_text()[-2000:]
        time.sleep(1.5)  # a duplicate would show up within a batch-timeout
    events = events_of(live.recorder.received)
    assert [e["message"] for e in events] == lines
    assert [e["log_class"]["label"] for e in events] == labels
    assert all(e["program"] == "app" and e["timestamp"] and e["host"] for e in events)
    assert {r.content_type for r in live.recorder.received} == {content_type}
    assert len(live.recorder.received) >= 30 // 8  # syslog-ng's batches, not one big request


def test_target_down_for_a_while_gives_503_and_syslog_ng_redelivers_everything(live, tmp_path):
    before, labels_before = make_lines(0, 6)
    during, labels_during = make_lines(6, 12)
    log_file = tmp_path / "app.log"
    log_file.write_text("\n".join(before) + "\n", encoding="utf-8")
    refused_before = live.log_count('ingest HTTP/1.1" 503')
    with running_syslog_ng("http-ndjson.conf", log_file, f"{live.url}/api/v1/ingest"):
        assert live.recorder.wait_for(has(len(before)), timeout=20)
        live.recorder.stop()  # the target goes down: connection refused
        with log_file.open("a", encoding="utf-8") as log:
            log.write("\n".join(during) + "\n")
        refused = _wait(lambda: live.log_count('ingest HTTP/1.1" 503') >= refused_before + 3, 20)
        assert refused, live.log.read_text()[-2000:]  # syslog-ng retried and got 503 again
        assert len(events_of(live.recorder.received)) == len(before)
        live.recorder.start()  # back on the same port
        assert live.recorder.wait_for(has(len(before) + len(during)), timeout=20)
        time.sleep(1.5)
    events = events_of(live.recorder.received)
    assert [e["message"] for e in events] == before + during
    assert [e["log_class"]["label"] for e in events] == labels_before + labels_during
    assert 'HTTP/1.1" 500' not in live.log.read_text()


@pytest.mark.parametrize("example", ["http-jsonarray.conf", "http-ndjson.conf"])
def test_example_configs_pass_syslog_ng_syntax_check(tmp_path, example):
    config = tmp_path / example
    config.write_text(example_config(example))
    result = subprocess.run(
        [syslog_ng_binary(), "--syntax-only", "-f", str(config)],
        env={"LOG_FILE": str(tmp_path / "app.log"), "LOGCLASS_URL": "http://127.0.0.1:1/"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def _wait(condition, timeout: float) -> bool:
    stop = time.monotonic() + timeout
    while time.monotonic() < stop:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_kubernetes_example_syslog_ng_config_passes_syntax_check(tmp_path):
    manifest = (REPO / "examples" / "kubernetes" / "sidecar-pod.yaml").read_text()
    config_map = next(yaml.safe_load_all(manifest))
    config = tmp_path / "syslog-ng.conf"
    config.write_text(config_map["data"]["syslog-ng.conf"])
    result = subprocess.run(
        [syslog_ng_binary(), "--syntax-only", "-f", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
