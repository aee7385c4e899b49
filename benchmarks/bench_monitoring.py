"""Monitoring overhead: @monitor_performance per call, HttpMetricsMiddleware per request.

Run from the repo root:  .venv/bin/python benchmarks/bench_monitoring.py [--quick]

Each measurement runs its baseline in the same process, interleaved (A, B, A, B, …), and
reports the best of the rounds per call, so the ratio survives a noisy shared machine:
- a plain function vs the same function under ``@monitor_performance`` (registry found
  three ways: explicit, ``self.registry``, context) and with no registry at all;
- the same for a coroutine function, awaited in a loop;
- a FastAPI app serving a trivial route, driven in-process through ASGI (no sockets, no
  HTTP client) with and without ``HttpMetricsMiddleware``; and the middleware around a bare
  ASGI app, which isolates its own cost from FastAPI's (noisier) request handling;
- one scrape: the JSON stats and the Prometheus text of a registry holding 50 full timers.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi import FastAPI  # noqa: E402

from app.http_metrics import HttpMetricsMiddleware  # noqa: E402
from monitoring import MetricsRegistry, monitor_performance, use_registry  # noqa: E402
from monitoring.prometheus import exposition  # noqa: E402
from monitoring.stats import build_stats  # noqa: E402


def best_per_call(run: Callable[[int], float], calls: int, rounds: int) -> float:
    return min(run(calls) for _ in range(rounds)) / calls


def interleaved(cases: dict[str, Callable[[int], float]], calls: int, rounds: int) -> dict:
    best = {name: float("inf") for name in cases}
    for _ in range(rounds):
        for name, run in cases.items():
            best[name] = min(best[name], run(calls) / calls)
    return best


def sync_loop(func: Callable[[int], int]) -> Callable[[int], float]:
    def run(n: int) -> float:
        started = time.perf_counter()
        for i in range(n):
            func(i)
        return time.perf_counter() - started

    return run


def work(x: int) -> int:
    return x * 2 + 1


class Tier:
    def __init__(self, registry: MetricsRegistry) -> None:
        self.registry = registry

    @monitor_performance
    def work(self, x: int) -> int:
        return x * 2 + 1


def bench_decorator(calls: int, rounds: int) -> dict[str, float]:
    registry = MetricsRegistry()
    explicit = monitor_performance("explicit", registry=registry)(work)
    contextual = monitor_performance("contextual")(work)
    unbound = monitor_performance("unbound")(work)
    tier = Tier(registry)

    def in_context(n: int) -> float:
        with use_registry(registry):
            return sync_loop(contextual)(n)

    return interleaved(
        {
            "plain call": sync_loop(work),
            "decorated, registry=": sync_loop(explicit),
            "decorated method, self.registry": sync_loop(tier.work),
            "decorated, use_registry() context": in_context,
            "decorated, no registry bound": sync_loop(unbound),
            "registry.observe() alone": sync_loop(lambda i: registry.observe("raw", 1e-6)),
        },
        calls,
        rounds,
    )


def bench_async_decorator(calls: int, rounds: int) -> dict[str, float]:
    registry = MetricsRegistry()

    async def plain(x: int) -> int:
        return x * 2 + 1

    timed = monitor_performance("async", registry=registry)(plain)

    def loop_of(func: Callable[[int], Awaitable[int]]) -> Callable[[int], float]:
        async def body(n: int) -> float:
            started = time.perf_counter()
            for i in range(n):
                await func(i)
            return time.perf_counter() - started

        return lambda n: asyncio.run(body(n))

    return interleaved(
        {"plain await": loop_of(plain), "decorated await": loop_of(timed)}, calls, rounds
    )


def asgi_app(registry: MetricsRegistry | None) -> FastAPI:
    app = FastAPI()

    @app.get("/api/v1/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    if registry is not None:
        app.add_middleware(HttpMetricsMiddleware, registry=registry)
    return app


def asgi_requests(app: FastAPI) -> Callable[[int], float]:
    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message

    async def body(n: int) -> float:
        started = time.perf_counter()
        for i in range(n):
            path = f"/api/v1/items/{i % 500}"
            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
                "query_string": b"", "root_path": "", "headers": [(b"host", b"bench")],
                "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
            }  # fmt: skip
            await app(scope, receive, send)
        return time.perf_counter() - started

    return lambda n: asyncio.run(body(n))


def bench_middleware(calls: int, rounds: int) -> dict[str, float]:
    registry = MetricsRegistry()
    results = interleaved(
        {
            "FastAPI route, no middleware": asgi_requests(asgi_app(None)),
            "FastAPI route + HttpMetricsMiddleware": asgi_requests(asgi_app(registry)),
        },
        calls,
        rounds,
    )
    counted = registry.snapshot().counter(
        "http.requests", method="GET", route="/api/v1/items/{item_id}", status="2xx"
    )
    assert counted == calls * rounds, counted  # every request was recorded under its template
    return results


def bench_middleware_alone(calls: int, rounds: int) -> dict[str, float]:
    """The middleware's own cost: around a bare ASGI app, routes resolved against FastAPI's."""
    routes_of = asgi_app(None)

    async def bare(scope: dict, receive: Callable, send: Callable) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    def loop_of(app: Callable) -> Callable[[int], float]:
        async def noop_receive() -> dict:
            return {"type": "http.request", "body": b""}

        async def noop_send(message: dict) -> None:
            return None

        async def body(n: int) -> float:
            started = time.perf_counter()
            for i in range(n):
                path = f"/api/v1/items/{i % 500}"
                scope = {"type": "http", "method": "GET", "path": path, "app": routes_of}
                await app(scope, noop_receive, noop_send)
            return time.perf_counter() - started

        return lambda n: asyncio.run(body(n))

    wrapped = HttpMetricsMiddleware(bare, registry=MetricsRegistry())
    return interleaved(
        {"bare ASGI app": loop_of(bare), "bare ASGI app + HttpMetricsMiddleware": loop_of(wrapped)},
        calls,
        rounds,
    )


def bench_scrape(rounds: int) -> dict[str, float]:
    registry = MetricsRegistry(window=1_000)
    for series in range(50):
        for i in range(1_000):
            registry.observe(f"module.function_{series}", (i % 97) / 1e4, i % 50 == 0)
    for tier in ("regex", "bert", "llm", "none"):
        registry.count("lines_decided", 1000, tier=tier)

    def stats(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            build_stats(registry.snapshot(), 500.0)
        return time.perf_counter() - started

    def prometheus(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            exposition(registry)
        return time.perf_counter() - started

    def snapshot_only(windows: bool) -> Callable[[int], float]:  # what the lock is held for
        def run(n: int) -> float:
            started = time.perf_counter()
            for _ in range(n):
                registry.snapshot(windows=windows)
            return time.perf_counter() - started

        return run

    return interleaved(
        {
            "snapshot()": snapshot_only(True),
            "snapshot(windows=False)": snapshot_only(False),
            "JSON stats (snapshot + percentiles)": stats,
            "Prometheus text (+ process metrics)": prometheus,
        },
        5,
        rounds,
    )


def report(title: str, results: dict[str, float], baseline: str) -> None:
    print(f"\n{title}")
    base = results[baseline]
    for name, seconds in results.items():
        extra = (
            ""
            if name == baseline
            else f"  (+{(seconds - base) * 1e6:7.2f} µs, x{seconds / base:.2f})"
        )
        print(f"  {name:40s} {seconds * 1e6:9.2f} µs{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, for a smoke run")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    print(f"python {sys.version.split()[0]}; best of the rounds, per call")
    report(
        "sync function (200k calls x 7 rounds)", bench_decorator(200_000 // scale, 7), "plain call"
    )
    report(
        "async function (100k awaits x 5 rounds)",
        bench_async_decorator(100_000 // scale, 5),
        "plain await",
    )
    report(
        "HTTP request through FastAPI in-process (2k x 15 rounds)",
        bench_middleware(2_000 // scale, 15),
        "FastAPI route, no middleware",
    )
    report(
        "the middleware alone, around a bare ASGI app (50k x 5 rounds)",
        bench_middleware_alone(50_000 // scale, 5),
        "bare ASGI app",
    )
    report("one read of 50 timers x 1,000 measurements", bench_scrape(3), "snapshot()")


if __name__ == "__main__":
    main()
