"""Real processes for the fault tests: ``logclass serve`` and the LLM test server on fixed
loopback ports (so the LLM can be killed and restarted where the service expects it), and
clients that keep posting while faults happen, keeping every answer."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import REPO, free_port
from tests.llm_fixtures import LlmServer, _wait_for_address


class LogclassProcess:
    """``logclass serve`` with extra ``LOGCLASS_*`` env; stdout and stderr kept in a file."""

    def __init__(self, folder: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"logclass-{self.port}.log"
        self.env = {**os.environ, "LOGCLASS_CACHE_DIR": str(folder / "cache"), **env}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> LogclassProcess:
        logclass = str(Path(sys.executable).with_name("logclass"))
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [logclass, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"logclass exited at start-up: {self.output()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("logclass did not answer /api/v1/health in time")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


class LlmProcess:
    """``tests/llm_server.py`` on one fixed port, killable and restartable there."""

    def __init__(self, delay_ms: float = 0.0) -> None:
        self.port = free_port()
        self.delay_ms = delay_ms
        self.server: LlmServer | None = None
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LlmProcess:
        process = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "llm_server.py"), "--port", str(self.port),
             "--delay-ms", str(self.delay_ms)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.server = LlmServer(process, _wait_for_address(process, 15.0))
        return self

    def kill(self) -> None:
        """SIGKILL: no goodbye to open connections, as a crashed model server."""
        assert self.server is not None
        self.server.process.kill()
        self.server.process.wait(timeout=5)
        self.server._control.close()
        self.server = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None


@dataclass
class Seen:
    """Every answer the clients got, in the order they got them, with when."""

    answers: list[tuple[float, list[dict[str, str]], httpx.Response | Exception]] = field(
        default_factory=list
    )

    def responses(self, since: float = 0.0, until: float = float("inf")) -> list[Any]:
        return [a for t, _, a in self.answers if since <= t < until]

    def results(self, since: float = 0.0, until: float = float("inf")) -> list[dict[str, Any]]:
        return [
            r
            for t, _, a in self.answers
            if since <= t < until and isinstance(a, httpx.Response) and a.status_code == 200
            for r in a.json()["results"]
        ]


async def keep_posting(url: str, make_logs, seen: Seen, stop: asyncio.Event,
                       clients: int = 4) -> None:  # fmt: skip
    """``clients`` loops posting ``make_logs()`` until ``stop``; every answer goes to ``seen``."""

    async def one(http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            logs = make_logs()
            try:
                answer: Any = await http.post("/api/v1/classify", json={"logs": logs})
            except httpx.TransportError as exc:
                answer = exc
            seen.answers.append((time.monotonic(), logs, answer))
            await asyncio.sleep(0.02)

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await asyncio.gather(*(one(http) for _ in range(clients)))
