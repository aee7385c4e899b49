"""Start ``tests/llm_server.py`` as a real process on 127.0.0.1 and talk to its controls.

Used by the LLM tests and ``benchmarks/bench_llm.py``; nothing here fakes the network.
"""

from __future__ import annotations

import selectors
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

SERVER_SCRIPT = Path(__file__).resolve().parent / "llm_server.py"


class LlmServer:
    """A running test server: ``url(flavor)`` for the tier, ``script``/``stats`` for tests."""

    def __init__(self, process: subprocess.Popen[str], root: str) -> None:
        self.process = process
        self.root = root
        self._control = httpx.Client(base_url=root, timeout=5.0)

    def url(self, flavor: str = "") -> str:
        return f"{self.root}/{flavor}/v1" if flavor else f"{self.root}/v1"

    def reset(self) -> None:
        self._control.post("/reset").raise_for_status()

    def script(self, *steps: str, default: str = "ok", delay_ms: float | None = None) -> None:
        payload: dict[str, Any] = {"script": list(steps), "default": default}
        if delay_ms is not None:
            payload["delay_ms"] = delay_ms
        self._control.post("/control", json=payload).raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = self._control.get("/stats")
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self._control.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@contextmanager
def running_llm_server(*args: str, start_timeout: float = 15.0) -> Iterator[LlmServer]:
    """Run the server on a free port until the block ends; the process is always reaped."""
    process = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        root = _wait_for_address(process, start_timeout)
        server = LlmServer(process, root)
    except BaseException:
        process.kill()
        process.wait(timeout=5)
        raise
    try:
        yield server
    finally:
        server.close()


def _wait_for_address(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise RuntimeError(f"llm test server did not start within {timeout} s")
    line = process.stdout.readline().strip()
    if not line.startswith("listening on "):
        raise RuntimeError(f"llm test server failed to start: {line!r}")
    return line.removeprefix("listening on ")


def refused_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="module")
def llm_server_process() -> Iterator[LlmServer]:
    """One OpenAI-compatible test server per test module (starting it takes ~1 s)."""
    with running_llm_server() as running:
        yield running


@pytest.fixture
def llm(llm_server_process: LlmServer) -> LlmServer:
    """The module's test server, with its script and counters reset for this test."""
    llm_server_process.reset()
    return llm_server_process
