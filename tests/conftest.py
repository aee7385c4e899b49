"""Fixtures shared by the whole suite: settings in a temp dir, an app client, free ports."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.main import create_app
from app.settings import Settings

REPO = Path(__file__).resolve().parents[1]
LOGHUB = REPO.parent / "shared" / "data" / "loghub"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Defaults, but the disk cache lives in the test's own folder and nothing is global."""
    return Settings(cache_dir=tmp_path / "cache", admin_token="test-admin-token")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on a freshly started app (lifespan run), in-process."""
    app = create_app(settings)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
        ) as http,
    ):
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
