"""Load shedding: at most N requests doing work at once; the rest get 503 + ``Retry-After``.

Without a limit every request is accepted and waits in the pipeline's queues (the BERT
micro-batcher, the LLM semaphore), so a flood grows memory and latency without bound and
every client times out together. With it, a request over the limit is answered at once,
before its body is read, with a JSON message and ``Retry-After`` that shippers and SDKs
honour; the requests already admitted keep their latency.

What counts: every request that is not ``GET``/``HEAD``/``OPTIONS``. Reads (health,
metrics, docs, the dashboard, stats) are cheap and are what an operator needs during an
overload, so they are never refused. The count is per process (one event loop, so a plain
integer is exact); with ``--workers N`` the service admits N times the limit.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from app.schemas import ErrorResponse
from monitoring import MetricsRegistry

__all__ = ["ConcurrencyLimitMiddleware", "EXEMPT_METHODS", "OVERLOAD_RESPONSES"]

EXEMPT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# For include_router(responses=...) of the routers it guards: a route's own 503 wins.
OVERLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorResponse,
        "description": "overloaded (LOGCLASS_MAX_CONCURRENT_REQUESTS in flight, or "
        "LOGCLASS_MAX_QUEUED_LINES lines queued): retry after the `Retry-After` seconds",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    }
}


class ConcurrencyLimitMiddleware:
    """Pure ASGI middleware; ``in_flight`` is exact and returns to 0 when requests end,
    however they end (answered, failed, or cancelled by a client that went away).

    Reports ``http_overload_rejected`` (counter) and ``http_in_flight`` (gauge) to the
    app's registry (``app.state.registry``) when there is one.
    """

    def __init__(self, app: ASGIApp, limit: int, retry_after: int = 1) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.app = app
        self.limit = limit
        self.retry_after = retry_after
        self.in_flight = 0
        self._body = json.dumps(
            {
                "detail": f"overloaded: {limit} requests are in flight, the most this server "
                f"takes at once (LOGCLASS_MAX_CONCURRENT_REQUESTS); retry after "
                f"{retry_after} s"
            }
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in EXEMPT_METHODS:
            await self.app(scope, receive, send)
            return
        registry = _registry(scope)
        if self.in_flight >= self.limit:
            if registry is not None:
                registry.count("http_overload_rejected")
            await self._reject(send)
            return
        self.in_flight += 1
        self._report(registry)
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            self._report(registry)

    async def _reject(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(self._body)).encode()),
                    (b"retry-after", str(self.retry_after).encode()),
                    # the body is not read: the connection cannot be reused safely
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self._body})

    def _report(self, registry: MetricsRegistry | None) -> None:
        if registry is not None:
            registry.set_gauge("http_in_flight", self.in_flight)


def _registry(scope: Scope) -> MetricsRegistry | None:
    registry = getattr(getattr(scope.get("app"), "state", None), "registry", None)
    return registry if isinstance(registry, MetricsRegistry) else None
