"""Server processes under measurement: start, wait for health, sample CPU and memory, stop.

A :class:`ServerProcess` owns one child process on loopback. It times the start (process
spawned → ``/api/v1/health`` answers 200), samples the resident set size every
``SAMPLE_SECONDS`` from a thread (peak kept), and reads the process's CPU seconds (user +
system, children included) so a run's cost is the difference of two readings. ``stop``
always ends the child it started, and only that one.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[2]
HEALTH_PATH = "/api/v1/health"
SAMPLE_SECONDS = 0.02


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """One server child process; use as a context manager so it is always stopped."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        port: int,
        health_path: str = HEALTH_PATH,
    ) -> None:
        self.name = name
        self.health_path = health_path
        self.argv = list(argv)
        self.env = {**os.environ, **env}
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.started_at = 0.0
        self.ready_seconds: float | None = None
        self.ready_rss: int | None = None
        self.peak_rss = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._ps: psutil.Process | None = None
        self._sampling = threading.Event()
        self._sampler: threading.Thread | None = None
        self._log = Path(os.environ.get("TMPDIR", "/tmp")) / f"logclass-bench-{name}-{port}.log"

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, ready_timeout: float = 120.0) -> None:
        log = self._log.open("wb")
        self.started_at = time.perf_counter()
        self._process = subprocess.Popen(
            self.argv, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self._ps = psutil.Process(self._process.pid)
        self._sampling.set()
        self._sampler = threading.Thread(target=self._sample, name=f"rss-{self.name}", daemon=True)
        self._sampler.start()
        self._wait_ready(ready_timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = self.started_at + timeout
        with httpx.Client(base_url=self.base_url, timeout=2.0, trust_env=False) as client:
            while time.perf_counter() < deadline:
                if self._process is not None and self._process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited at start-up: {self.log_tail()}")
                try:
                    if client.get(self.health_path).status_code == 200:
                        self.ready_seconds = time.perf_counter() - self.started_at
                        self.ready_rss = self.rss()
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.01)
        raise RuntimeError(f"{self.name} did not answer {self.health_path} in {timeout:.0f} s")

    def _sample(self) -> None:
        while self._sampling.is_set():
            try:
                self.peak_rss = max(self.peak_rss, self.rss())
            except psutil.Error:
                return
            time.sleep(SAMPLE_SECONDS)

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def since_start(self) -> float:
        return time.perf_counter() - self.started_at

    def rss(self) -> int:
        """Resident bytes of the server and its children (uvicorn may fork a worker)."""
        assert self._ps is not None
        total = self._ps.memory_info().rss
        for child in self._ps.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU seconds used so far by the server and its live children."""
        assert self._ps is not None
        times = self._ps.cpu_times()
        total = times.user + times.system
        for child in self._ps.children(recursive=True):
            try:
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
            except psutil.Error:
                pass
        return total

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self._log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        self._sampling.clear()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        if self._sampler is not None:
            self._sampler.join(timeout=1)
        self._log.unlink(missing_ok=True)


def logclass_server(
    name: str,
    cache_dir: Path,
    llm_base_url: str | None,
    cache_enabled: bool = True,
    settings: Mapping[str, str] | None = None,
) -> ServerProcess:
    """``logclass serve`` as a deployment starts it, configured only through LOGCLASS_*
    (``settings``: more of them, e.g. ``{"LOGCLASS_BERT_THREADS": "1"}``)."""
    port = free_port()
    env = {
        "LOGCLASS_PORT": str(port),
        "LOGCLASS_HOST": "127.0.0.1",
        "LOGCLASS_CACHE_DIR": str(cache_dir),
        "LOGCLASS_CACHE_ENABLED": "true" if cache_enabled else "false",
        "LOGCLASS_LOG_LEVEL": "warning",
        "LOGCLASS_WORKERS": "1",
    }
    if llm_base_url:
        env["LOGCLASS_LLM_BASE_URL"] = llm_base_url
    env.update(settings or {})
    logclass = Path(sys.executable).with_name("logclass")
    return ServerProcess(name, [str(logclass), "serve"], env, port)


def reference_server(name: str, llm_base_url: str | None) -> ServerProcess:
    """The reference design (``benchmarks/e2e/reference_server.py``) under uvicorn, 1 worker."""
    port = free_port()
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if llm_base_url:
        env["REFERENCE_LLM_BASE_URL"] = llm_base_url
    argv = [
        sys.executable, "-m", "uvicorn", "benchmarks.e2e.reference_server:create_app",
        "--factory", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--log-level", "warning",
    ]  # fmt: skip
    return ServerProcess(name, argv, env, port)


class LlmTestServer:
    """``tests/llm_server.py`` (an OpenAI-compatible test server) with a fixed answer delay."""

    def __init__(self, delay_ms: float) -> None:
        port = free_port()
        argv = [sys.executable, str(REPO / "tests" / "llm_server.py"), "--port", str(port),
                "--delay-ms", str(delay_ms)]  # fmt: skip
        self.process = ServerProcess("llm", argv, {}, port, health_path="/health")
        self.base_url = self.process.base_url

    def __enter__(self) -> LlmTestServer:
        self.process.start(ready_timeout=15)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop()

    @property
    def chat_base_url(self) -> str:
        """What a client is configured with: ``…/v1`` (it appends ``/chat/completions``)."""
        return f"{self.base_url}/v1"

    def calls(self) -> int:
        return int(httpx.get(f"{self.base_url}/stats", timeout=5, trust_env=False).json()["calls"])

    def reset(self) -> None:
        httpx.post(f"{self.base_url}/reset", json={}, timeout=5, trust_env=False)
