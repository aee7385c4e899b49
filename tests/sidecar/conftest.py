"""Sidecar fixtures: an in-process app on the regex-only test taxonomy, with its forward
target swapped at httpx's transport seam (end-to-end tests use a real server instead)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.settings import Settings
from tests.sidecar.app import TAXONOMY, sidecar_app

SidecarClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def sidecar(tmp_path: Path) -> SidecarClient:
    """``async with sidecar(forward_url=..., transport=...) as http:`` an app client."""

    @asynccontextmanager
    async def open_client(
        transport: httpx.AsyncBaseTransport | None = None, **overrides: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        settings = Settings(cache_dir=tmp_path / "cache", taxonomy=TAXONOMY, **overrides)
        options = {"transport": transport} if transport else {}
        app = sidecar_app(settings, **options)
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="http://sidecar"
            ) as http,
        ):
            yield http

    return open_client


class Downstream:
    """A scripted forward target behind ``httpx.MockTransport``: records what arrives."""

    def __init__(self, statuses: list[int] | None = None, default: int = 200) -> None:
        self.statuses = list(statuses or [])
        self.default = default
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else self.default
        if status == 0:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(status, json={"ok": status < 300})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)
