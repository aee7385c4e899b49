"""Fixtures for the hardening tests: the app in-process behind a synchronous client (for
hypothesis, which drives plain functions), and a scripted model tier."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.settings import Settings
from processors.records import Decision


def offline_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings whose model tiers answer at once: no embedding model (the folder is empty,
    so BERT lines end ``bert_unavailable``), no LLM, cache in ``tmp_path``. The model is not
    loaded at start (it would fail and make the service unready before any line is sent);
    tests of that set ``bert_preload`` or ``bert_warmup`` themselves."""
    empty = tmp_path / "no-model"
    empty.mkdir(exist_ok=True)
    values: dict[str, Any] = {
        "cache_dir": tmp_path / "cache",
        "bert_model_path": empty,
        "admin_token": "test-admin-token",
        "bert_preload": False,
    }
    return Settings(**{**values, **overrides})


class SyncApp:
    """An app with its lifespan running on a private event loop; ``request`` is blocking."""

    def __init__(self, runner: asyncio.Runner, http: httpx.AsyncClient, app: FastAPI) -> None:
        self._runner, self._http, self.app = runner, http, app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._runner.run(self._http.request(method, url, **kwargs))


@contextmanager
def running(app: FastAPI) -> Iterator[SyncApp]:
    stack = AsyncExitStack()

    async def enter() -> httpx.AsyncClient:
        manager = await stack.enter_async_context(LifespanManager(app))
        transport = httpx.ASGITransport(app=manager.app)
        return await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://testserver")
        )

    with asyncio.Runner() as runner:
        http = runner.run(enter())
        try:
            yield SyncApp(runner, http, app)
        finally:
            runner.run(stack.aclose())


class ScriptedTier:
    """A model tier whose answer is a pure function of the template: a label picked by hash,
    or undecided for about one template in four, like an unsure model. Counts its calls."""

    def __init__(self, name: str, labels: Sequence[str], delay: float = 0.0) -> None:
        self.name = name
        self.labels = tuple(labels)
        self.delay = delay
        self.calls = 0
        self.templates_seen = 0

    @property
    def fingerprint(self) -> str:
        return f"scripted-{self.name}"

    def answer(self, template: str) -> Decision:
        digest = int.from_bytes(hashlib.sha256(f"{self.name}{template}".encode()).digest()[:4])
        if digest % 4 == 0:
            return Decision(None, reason=f"{self.name}_unsure")
        return Decision(self.labels[digest % len(self.labels)], 0.5 + (digest % 50) / 100)

    async def decide(self, templates: Sequence[str]) -> list[Decision]:
        self.calls += 1
        self.templates_seen += len(templates)
        if self.delay:
            await asyncio.sleep(self.delay)
        return [self.answer(t) for t in templates]

    def health(self) -> dict[str, Any]:
        return {"status": "ok"}

    async def aclose(self) -> None:
        return None
