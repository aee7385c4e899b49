"""`logclass serve` as a real process on loopback, as a user starts it."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.e2e


def _logclass() -> str:
    return str(Path(sys.executable).with_name("logclass"))


def _wait_ready(url: str, process: subprocess.Popen, deadline: float = 30.0) -> None:
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        if process.poll() is not None:
            raise AssertionError(f"server exited early: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not answer /api/v1/health in time")


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = {**os.environ, "LOGCLASS_CACHE_DIR": str(tmp_path / "cache"), "LOGCLASS_PORT": str(port)}
    process = subprocess.Popen(
        [_logclass(), "serve", "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{base}/api/v1/health", process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_served_process_classifies_json_and_csv_over_http(server):
    logs = [
        {"source": "ModernCRM", "log_message": "User User1 logged in."},
        {"source": "LegacyCRM", "log_message": "System reboot initiated by user User9."},
    ]
    response = httpx.post(f"{server}/api/v1/classify", json={"logs": logs}, timeout=60)
    assert response.status_code == 200
    labels = [r["label"] for r in response.json()["results"]]
    assert labels == ["User Action", "System Notification"]

    upload = {"file": ("a.csv", b"source,log_message\nx,Backup completed successfully.\n")}
    response = httpx.post(f"{server}/classify/", files=upload, timeout=60)
    assert response.status_code == 200
    assert response.text.splitlines()[1].endswith("System Notification,1.0000,regex")

    docs = httpx.get(f"{server}/docs", timeout=10)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_bad_taxonomy_stops_start_up_with_its_message(tmp_path):
    bad = tmp_path / "taxonomy.yaml"
    bad.write_text("labels: [{name: A}]\nrules: [{pattern: '(', label: A}]\n")
    result = subprocess.run(
        [_logclass(), "serve"],
        env={**os.environ, "LOGCLASS_TAXONOMY": str(bad)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{bad}: rules[0]: bad regex" in result.stderr


def test_cli_classify_reads_stdin_and_writes_stdout(tmp_path):
    result = subprocess.run(
        [_logclass(), "classify", "-"],
        input="source,log_message\nApp,User User5 logged out.\nApp,=1+1\n",
        env={**os.environ, "LOGCLASS_CACHE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "source,log_message,target_label,confidence,tier,reason"
    assert lines[1] == "App,User User5 logged out.,User Action,1.0000,regex,"
    assert lines[2].startswith("App,'=1+1,")
