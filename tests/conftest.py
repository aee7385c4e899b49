"""Fixtures shared by the whole suite: settings in a temp dir, an app client, free ports."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.main import create_app
from app.settings import Settings

# the LLM test server fixtures (`llm`), shared by the LLM tier's test modules
pytest_plugins = ["tests.llm_fixtures"]

REPO = Path(__file__).resolve().parents[1]
LOGHUB = REPO.parent / "shared" / "data" / "loghub"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Defaults, but the disk cache lives in the test's own folder and nothing is global; the
    model is loaded by the first request that needs it, not in the background at start."""
    return Settings(cache_dir=tmp_path / "cache", admin_token="test-admin-token",
                    bert_preload=False)


@asynccontextmanager
async def app_client(
    app: FastAPI, base_url: str = "http://testserver", **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on ``app`` in-process, with the app's lifespan run around it."""
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url, **options) as http:
            yield http


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on a freshly started app (lifespan run), in-process."""
    async with app_client(create_app(settings)) as http:
        yield http


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def loghub() -> Path:
    if not LOGHUB.is_dir():
        pytest.skip("../shared/data/loghub is absent")
    return LOGHUB
