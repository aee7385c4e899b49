"""Per-route HTTP metrics: requests by status class, and latency, into the app's registry.

Series (see ``monitoring.prometheus`` for the exported names):
``http.requests{method, route, status}`` (status ``2xx``/``4xx``/…) and the timer
``http.request{method, route}`` whose errors are the 5xx responses and crashes.

``route`` is the route's path template (``/api/v1/items/{item_id}``), never the raw URL,
so the number of series stays bounded by the app's routes: paths no route matches share
``<unmatched>``, unknown methods share ``OTHER``. The middleware also binds the registry
for ``@monitor_performance`` for the duration of each request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import fastapi.routing
from starlette.routing import Mount, compile_path, get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitoring import MetricsRegistry, use_registry

UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RouteTemplates:
    """Maps a request path to the template of the route that serves it (first match wins,
    in routing order; a trailing slash is ignored). Results are memoised per path."""

    def __init__(self, routes: list[Any], memo_size: int = 4096) -> None:
        self.patterns: list[tuple[re.Pattern[str], str]] = []
        for template in _templates(routes):
            regex, _, _ = compile_path(template)
            self.patterns.append((regex, template))
        self._memo: dict[str, str] = {}
        self._memo_size = memo_size

    def resolve(self, path: str) -> str:
        found = self._memo.get(path)
        if found is None:
            if len(self._memo) >= self._memo_size:  # bounded: random paths cannot grow it
                self._memo.clear()
            found = self._memo[path] = self._match(path)
        return found

    def _match(self, path: str) -> str:
        candidates = [path, path.rstrip("/")] if path.endswith("/") and path != "/" else [path]
        for candidate in candidates:
            for regex, template in self.patterns:
                if regex.match(candidate):
                    return template
        return UNMATCHED


def _templates(routes: list[Any]) -> Iterator[str]:
    """Full path templates; FastAPI's included routers are flattened where it offers that."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    for route in flatten(routes) if flatten else routes:
        original = getattr(route, "original_route", route)
        if isinstance(original, Mount):
            path = getattr(route, "path", None) or original.path
            yield path.rstrip("/") + "/{path:path}"
        else:
            path = getattr(route, "path", None)
            if path:
                yield path


class HttpMetricsMiddleware:
    """Pure ASGI middleware; records every HTTP request, including ones that crash.

    Latency runs until the app returns, i.e. a streamed response's last chunk was sent.

    The registry is ``registry=`` if given, else ``app.state.registry`` of the app serving
    the request (read per request, since the lifespan creates it); with neither, requests
    pass through unmeasured.
    """

    def __init__(self, app: ASGIApp, registry: MetricsRegistry | None = None) -> None:
        self.app = app
        self.registry = registry
        self._templates: RouteTemplates | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        registry = self.registry or getattr(_app_state(scope), "registry", None)
        if not isinstance(registry, MetricsRegistry):
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        failed = False
        started = time.perf_counter()
        try:
            with use_registry(registry):
                await self.app(scope, receive, send_recording_status)
        except Exception:
            failed = True
            raise
        finally:
            elapsed = time.perf_counter() - started
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            route = self._route(scope)
            error = failed or status >= 500
            registry.count("http.requests", method=method, route=route, status=f"{status // 100}xx")
            registry.observe("http.request", elapsed, error, method=method, route=route)

    def _route(self, scope: Scope) -> str:
        if self._templates is None:
            app = scope.get("app")
            self._templates = RouteTemplates(list(getattr(app, "routes", [])))
        return self._templates.resolve(get_route_path(scope))


def _app_state(scope: Scope) -> Any:
    return getattr(scope.get("app"), "state", None)
