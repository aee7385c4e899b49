"""Sidecar fixtures: an in-process app on the regex-only test taxonomy, with its forward
target swapped at httpx's transport seam (end-to-end tests use a real server instead)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from app.settings import Settings
from monitoring import MetricsRegistry
from processors.pipeline import Classifier
from tests.conftest import app_client, free_port
from tests.sidecar.app import TAXONOMY, sidecar_app
from tests.sidecar.recorder import Recorder
from tests.sidecar.service import running_service

SidecarClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def sidecar(tmp_path: Path) -> SidecarClient:
    """``async with sidecar(forward_url=..., transport=...) as http:`` an app client."""

    @asynccontextmanager
    async def open_client(
        transport: httpx.AsyncBaseTransport | None = None,
        stdout: IO[bytes] | None = None,
        classifier: Classifier | None = None,
        registry: MetricsRegistry | None = None,
        **overrides: Any,
    ) -> AsyncIterator[httpx.AsyncClient]:
        settings = Settings(cache_dir=tmp_path / "cache", taxonomy=TAXONOMY, **overrides)
        options = {k: v for k, v in {"transport": transport, "stdout": stdout}.items() if v}
        app = sidecar_app(settings, classifier=classifier, registry=registry, **options)
        async with app_client(app) as http:
            yield http

    return open_client


class Downstream:
    """A scripted forward target behind ``httpx.MockTransport``: records what arrives."""

    def __init__(
        self, statuses: list[int] | None = None, default: int = 200, delay: float = 0.0
    ) -> None:
        self.statuses = list(statuses or [])  # 0 = connection refused
        self.default = default
        self.delay = delay
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else self.default
        if self.delay:
            await asyncio.sleep(self.delay)
        if status == 0:
            raise httpx.ConnectError("connection refused", request=request)
        headers = {"Retry-After": "1"} if status == 429 else {}
        return httpx.Response(status, json={"ok": status < 300}, headers=headers)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


@dataclass(frozen=True)
class LiveSidecar:
    """One real ``logclass`` process shared by the e2e tests, forwarding to ``recorder``."""

    url: str
    recorder: Recorder
    log: Path

    def log_count(self, text: str) -> int:
        return self.log.read_text().count(text)


@pytest.fixture(scope="package")
def live_sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSidecar]:
    """Started once for tests/sidecar (a start costs seconds); tests clear what it received."""
    workdir = tmp_path_factory.mktemp("live-sidecar")
    recorder = Recorder(free_port()).start()
    try:
        with running_service(
            workdir, forward_url=f"{recorder.url}/sink", forward_retries="1"
        ) as url:
            yield LiveSidecar(url, recorder, workdir / "service.log")
    finally:
        recorder.stop()


@pytest.fixture
def live(live_sidecar: LiveSidecar) -> Iterator[LiveSidecar]:
    if not live_sidecar.recorder.running:
        live_sidecar.recorder.start()
    live_sidecar.recorder.clear()
    yield live_sidecar
    if not live_sidecar.recorder.running:  # a test that took the target down brings it back
        live_sidecar.recorder.start()
