"""The pages and docs over plain HTTP (no browser): what is served, with which headers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.api.routes.pages import ASSETS, STATIC_DIR
from app.docs import ASSETS_URL
from app.main import create_app
from app.settings import Settings


async def _client(app: FastAPI, root_path: str = "") -> AsyncIterator[httpx.AsyncClient]:
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app, root_path=root_path),
            base_url="http://testserver",
        ) as http,
    ):
        yield http


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _client(create_app(Settings(cache_dir=tmp_path / "cache"))):
        yield http


async def test_every_asset_the_pages_reference_is_served_with_its_type(client):
    referenced: set[str] = set()
    for page in ("index.html", "dashboard.html"):
        html = (STATIC_DIR / page).read_text()
        referenced |= set(re.findall(r'"/dashboard/assets/([\w.-]+)"', html))
    for script in ("dashboard.js", "panels.js"):
        referenced |= set(re.findall(r'from "\./([\w.-]+)"', (STATIC_DIR / script).read_text()))
    assert referenced == set(ASSETS)
    for name in referenced:
        response = await client.get(f"/dashboard/assets/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == ASSETS[name]
        assert response.content == (STATIC_DIR / name).read_bytes()


@pytest.mark.parametrize("name", ["index.html", "..%2Fapi%2Froutes%2Fpages.py", "missing.js"])
async def test_files_outside_the_asset_list_are_not_served(client, name):
    assert (await client.get(f"/dashboard/assets/{name}")).status_code == 404


@pytest.mark.parametrize("path", ["/", "/dashboard", "/dashboard/assets/dashboard.js"])
async def test_pages_allow_only_their_own_host(client, path):
    response = await client.get(path)
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_pages_are_not_part_of_the_api_schema(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not {"/", "/dashboard", "/docs", "/redoc"} & set(paths)


async def test_served_docs_pages_reference_local_assets_only(tmp_path):
    app = create_app(Settings(cache_dir=tmp_path / "cache"))
    assert [getattr(r, "path", None) for r in app.routes].count("/docs") == 1
    async for http in _client(app):
        for path, asset in [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")]:
            page = (await http.get(path)).text
            assert f'src="{ASSETS_URL}/{asset}"' in page
            assert "cdn." not in page and "fonts.googleapis" not in page
            assert (await http.get(f"{ASSETS_URL}/{asset}")).status_code == 200


async def test_docs_behind_a_path_prefix_load_assets_and_schema_under_it(tmp_path):
    app = create_app(Settings(cache_dir=tmp_path / "cache"))
    async for http in _client(app, root_path="/logclass"):
        page = (await http.get("/docs")).text
        assert f"/logclass{ASSETS_URL}/swagger-ui-bundle.js" in page
        assert "url: '/logclass/openapi.json'" in page
