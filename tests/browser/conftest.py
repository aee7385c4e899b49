"""A real uvicorn server on 127.0.0.1 and headless system Chromium driven by Playwright.

Tests that use a browser skip cleanly where ``/usr/bin/chromium`` or the ``playwright``
package is absent; nothing here downloads a browser. The served app is ``create_app()``,
exactly what ``logclass serve`` runs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi import FastAPI

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@dataclass
class LiveServer:
    """A uvicorn server in a thread of this process, on a socket bound before it starts."""

    app: FastAPI
    base_url: str = ""
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise AssertionError("uvicorn did not start within 20 s")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)


@dataclass
class RequestLog:
    """Every URL a page asked for, and those its Content-Security-Policy stopped in the
    browser (a request blocked by CSP never reaches the network)."""

    urls: list[str] = field(default_factory=list)
    blocked_by_csp: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("requestfailed", self._failed)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))

    def _failed(self, request: Any) -> None:
        if request.failure == "csp":
            self.blocked_by_csp.append(request.url)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def sent_off_host(self, base_url: str) -> list[str]:
        """Requests that went to the network anywhere but ``base_url``'s host:port."""
        host = urlsplit(base_url).netloc
        return [
            url for url in self.urls
            if urlsplit(url).scheme not in ("data", "blob", "about")
            and urlsplit(url).netloc != host
            and url not in self.blocked_by_csp
        ]


def serve(app: FastAPI) -> Iterator[LiveServer]:
    """Run ``app`` for the duration of a fixture (its lifespan opens and closes its parts)."""
    server = LiveServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless system Chromium; the test skips where it or ``playwright`` is missing.

    Module-scoped on purpose: Playwright's sync API keeps an event loop running in this
    thread while it is open, which would break every asyncio test that runs after it.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def open_page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    """``open_page(url) -> (page, RequestLog)``; a screenshot of each page on teardown."""
    contexts: list[Any] = []
    pages: list[Any] = []

    def open_(url: str) -> tuple[Any, RequestLog]:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        log = RequestLog()
        log.watch(page)
        page.goto(url, wait_until="load")
        return page, log

    yield open_
    for i, page in enumerate(pages):
        if not page.is_closed():
            page.screenshot(path=str(tmp_path / f"page-{i}.png"), full_page=True)
    for context in contexts:
        context.close()
