"""``logclass serve`` as a real process on a free loopback port, for the e2e tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import REPO, free_port
from tests.sidecar.app import TAXONOMY


@contextmanager
def running_service(workdir: Path, **env: str) -> Iterator[str]:
    """Yields the base URL; env entries become ``LOGCLASS_<NAME>``. Stopped by PID."""
    with running_process(workdir, **env) as (base, _):
        yield base


@contextmanager
def running_process(workdir: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like :func:`running_service`, and the process too (benchmarks read its memory)."""
    port = free_port()
    variables = {
        **os.environ,
        "LOGCLASS_PORT": str(port),
        "LOGCLASS_HOST": "127.0.0.1",
        "LOGCLASS_CACHE_DIR": str(workdir / "cache"),
        "LOGCLASS_TAXONOMY": str(TAXONOMY),
        "LOGCLASS_LOG_LEVEL": "info",  # the e2e tests read the access log for 503s
        **{f"LOGCLASS_{name.upper()}": value for name, value in env.items()},
    }
    command = [str(Path(sys.executable).with_name("logclass")), "serve"]
    log_path = workdir / "service.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=variables, cwd=REPO, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process, log_path)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_ready(base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    stop = time.monotonic() + 60
    while time.monotonic() < stop:
        if process.poll() is not None:
            raise AssertionError(f"service exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("service did not answer /api/v1/health within 60 s")
