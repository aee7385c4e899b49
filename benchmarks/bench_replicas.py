"""Replicas on one machine: a shared Redis cache vs private disk caches, in the same run.

Run from the repo root:  .venv/bin/python benchmarks/bench_replicas.py
    [--replicas 1,2,4] [--distinct 200] [--warm-seconds 3] [--llm-delay-ms 100]

Starts a real ``redis-server`` (Debian package) and ``tests/llm_server.py`` (fixed answer
delay; it counts what it is asked) on loopback, and ``max(--replicas)`` real
``logclass serve`` processes per set-up: ``redis`` (all on ``LOGCLASS_REDIS_URL``) and
``disk`` (each its own ``LOGCLASS_CACHE_DIR``, today's default). Lines are ``LegacyCRM``
lines (route ``[regex, llm]``, no embedding model) with fresh words, so a template is new
until some replica classified it. For each replica count N, the first N replicas of a
set-up get:

1. **cold**: the same ``--distinct`` new templates, sent to all N replicas at once (as a
   load balancer spreads one stream: every replica meets every template), in batches of
   50; reported: templates the model was asked about and LLM calls, per distinct template.
2. **warm**: the same lines again for ``--warm-seconds`` from 4 clients per replica
   (batches of 200); reported: lines/s over all replicas (client and servers share the
   machine's cores, so this is bounded by the machine, not the cache).

Then, **latency of a hit** (2 replicas of each set-up): one-line requests whose template
replica 0 classified, sent to replica 1 — the first time a shared-level hit (Redis: from
the other replica; disk: the model again, as replica 1's private cache never saw it), the
second time a memory hit; and the level alone, in-process: ``get_many`` of one key on a
``DiskLevel`` and on a ``RedisLevel`` (loopback), p50/p99 over 2,000 calls.

Prints a Markdown section for BENCHMARKS.md. Keep it short: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from monitoring import MetricsRegistry  # noqa: E402
from processors.cache_disk import DiskLevel  # noqa: E402
from processors.cache_redis import RedisLevel  # noqa: E402
from processors.records import Outcome  # noqa: E402
from tests.hardening.processes import LlmProcess, LogclassProcess  # noqa: E402
from tests.redis_server import REDIS_SERVER, RedisServer  # noqa: E402

rng = random.Random(16)
BATCH = 50


def fresh() -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=10))


def crm(word: str) -> dict[str, str]:
    return {"source": "LegacyCRM", "log_message": f"Case escalation for ticket {word} failed"}


def asked(llm: LlmProcess) -> tuple[int, int]:
    """(templates the model was asked about, calls) since the last reset."""
    assert llm.server is not None
    requests = llm.server.stats()["requests"]
    return sum(r["n"] for r in requests), len(requests)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def cold(http: httpx.AsyncClient, replicas: list[LogclassProcess], llm: LlmProcess,
               distinct: int) -> dict[str, float]:  # fmt: skip
    words = [fresh() for _ in range(distinct)]
    batches = [[crm(w) for w in words[i : i + BATCH]] for i in range(0, distinct, BATCH)]
    llm.server.reset()  # type: ignore[union-attr]
    started = time.perf_counter()
    answers = await asyncio.gather(*(
        http.post(f"{r.url}/api/v1/classify", json={"logs": b}) for b in batches for r in replicas
    ))  # fmt: skip
    took = time.perf_counter() - started
    bad = [a.status_code for a in answers if a.status_code != 200]
    if bad:
        raise RuntimeError(f"cold pass: HTTP {bad[:5]}")
    templates, calls = asked(llm)
    return {"templates": templates / distinct, "calls": calls / distinct, "seconds": took,
            "words": words}  # type: ignore[dict-item]  # fmt: skip


async def warm(http: httpx.AsyncClient, replicas: list[LogclassProcess], words: list[str],
               seconds: float) -> float:  # fmt: skip
    logs = [crm(w) for w in words]
    batch = (logs * (200 // len(logs) + 1))[:200]
    lines = 0
    stop = time.perf_counter() + seconds

    async def client(url: str) -> None:
        nonlocal lines
        while time.perf_counter() < stop:
            answer = await http.post(f"{url}/api/v1/classify", json={"logs": batch})
            if answer.status_code != 200:
                raise RuntimeError(f"warm pass: HTTP {answer.status_code}")
            lines += len(batch)

    started = time.perf_counter()
    await asyncio.gather(*(client(r.url) for r in replicas for _ in range(4)))
    return lines / (time.perf_counter() - started)


async def hit_latency(http: httpx.AsyncClient, replicas: list[LogclassProcess],
                      count: int) -> dict[str, float]:  # fmt: skip
    """Median ms of a one-line request on replica 1: first sight (shared level or model),
    then again (memory)."""
    words = [fresh() for _ in range(count)]
    for i in range(0, count, BATCH):
        await http.post(f"{replicas[0].url}/api/v1/classify",
                        json={"logs": [crm(w) for w in words[i : i + BATCH]]})  # fmt: skip
    times: dict[str, list[float]] = {"first": [], "again": []}
    cached_first = 0
    for word in words:
        for phase in ("first", "again"):
            started = time.perf_counter()
            answer = await http.post(f"{replicas[1].url}/api/v1/classify",
                                     json={"logs": [crm(word)]})  # fmt: skip
            times[phase].append((time.perf_counter() - started) * 1000)
            if phase == "first":
                cached_first += answer.json()["results"][0]["cached"]
    return {
        "first_p50": statistics.median(times["first"]),
        "again_p50": statistics.median(times["again"]),
        "first_cached": cached_first / count,
    }


def level_latency(redis_url: str, folder: Path, calls: int = 2000) -> dict[str, tuple]:
    """p50/p99 µs of one get_many([key]) on each level, in-process."""
    outcome = Outcome("Error", 0.9, "llm", None)
    registry = MetricsRegistry()
    levels = {
        "disk (sqlite)": DiskLevel(folder / "disk", 64 * 1024 * 1024, registry),
        "redis (loopback)": RedisLevel(redis_url, registry, probe=False),
    }
    out = {}
    for name, level in levels.items():
        keys = [f"fp\x1fLegacyCRM\x1fCase escalation for ticket {fresh()} failed"
                for _ in range(200)]  # fmt: skip
        level.add_many(dict.fromkeys(keys, outcome))
        samples = []
        for i in range(calls):
            key = keys[i % len(keys)]
            started = time.perf_counter()
            found = level.get_many([key])
            samples.append((time.perf_counter() - started) * 1e6)
            assert found, name
        batch_started = time.perf_counter()
        for _ in range(200):
            level.get_many(keys[:50])
        per_batch = (time.perf_counter() - batch_started) / 200 * 1e6
        out[name] = (statistics.median(samples), pct(samples, 0.99), per_batch)
        level.close()
    return out


async def main_async(args: argparse.Namespace) -> None:
    counts = sorted({int(n) for n in args.replicas.split(",")})
    top = max(counts)
    work = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    redis_server = RedisServer(work).start()
    llm = LlmProcess(delay_ms=args.llm_delay_ms).start()
    fleets: dict[str, list[LogclassProcess]] = {}
    common = {
        "LOGCLASS_LLM_BASE_URL": llm.base_url,
        "LOGCLASS_BERT_PRELOAD": "false",
        "LOGCLASS_LOG_LEVEL": "warning",
        "LOGCLASS_MAX_CONCURRENT_REQUESTS": "256",
    }
    results: dict[tuple[str, int], dict] = {}
    try:
        for setup in ("redis", "disk"):
            extra = {"LOGCLASS_REDIS_URL": redis_server.url} if setup == "redis" else {}
            fleets[setup] = [
                LogclassProcess(work / f"{setup}{i}", **common, **extra)
                for i in range(top)
            ]
            for i, replica in enumerate(fleets[setup]):
                (work / f"{setup}{i}").mkdir(exist_ok=True)
                replica.start()
        async with httpx.AsyncClient(timeout=120,
                                     limits=httpx.Limits(max_connections=64)) as http:  # fmt: skip
            for n in counts:
                for setup in ("redis", "disk"):
                    replicas = fleets[setup][:n]
                    c = await cold(http, replicas, llm, args.distinct)
                    rate = await warm(http, replicas, c.pop("words"), args.warm_seconds)
                    results[setup, n] = {**c, "warm": rate}
                    print(f"  {setup} x{n}: {results[setup, n]}", file=sys.stderr)
            latency = {}
            if top >= 2:
                for setup in ("redis", "disk"):
                    latency[setup] = await hit_latency(http, fleets[setup][:2], args.latency)
        levels = level_latency(redis_server.url, work)
    finally:
        for fleet in fleets.values():
            for replica in fleet:
                replica.stop()
        llm.stop()
        redis_server.stop()
    report(args, counts, results, latency, levels)


def report(args, counts, results, latency, levels) -> None:
    load = os.getloadavg()[0]
    print(f"Latest: {os.cpu_count()} cores, load average {load:.1f} at the end, Python "
          f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}; "
          f"{args.distinct} distinct templates, LLM test server answering in "
          f"{args.llm_delay_ms:g} ms, warm passes {args.warm_seconds:g} s.\n")  # fmt: skip
    print("| replicas | cache | templates asked of the model, per distinct template "
          "| LLM calls per distinct template | cold pass s | warm lines/s (all replicas) |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in counts:
        for setup in ("redis", "disk"):
            r = results[setup, n]
            name = "shared Redis" if setup == "redis" else "private disk"
            print(f"| {n} | {name} | {r['templates']:.2f} | {r['calls']:.3f} "
                  f"| {r['seconds']:.2f} | {r['warm']:,.0f} |")  # fmt: skip
    if latency:
        print("\nOne-line request on replica 1 for a template replica 0 classified "
              f"(median of {args.latency}, ms):\n")
        print("| cache | first sight on replica 1 | served from | again (memory) |")
        print("|---|---:|---|---:|")
        for setup, lat in latency.items():
            source = (f"shared level ({lat['first_cached']:.0%} cached)" if setup == "redis"
                      else f"the model ({lat['first_cached']:.0%} cached)")  # fmt: skip
            name = "shared Redis" if setup == "redis" else "private disk"
            print(f"| {name} | {lat['first_p50']:.2f} | {source} | {lat['again_p50']:.2f} |")
    print("\nThe level alone, in-process, `get_many` (µs):\n")
    print("| level | 1 key p50 | 1 key p99 | 50 keys, per call |")
    print("|---|---:|---:|---:|")
    for name, (p50, p99, batch) in levels.items():
        print(f"| {name} | {p50:.0f} | {p99:.0f} | {batch:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", default="1,2,4")
    parser.add_argument("--distinct", type=int, default=200)
    parser.add_argument("--warm-seconds", type=float, default=3.0)
    parser.add_argument("--llm-delay-ms", type=float, default=100.0)
    parser.add_argument("--latency", type=int, default=100, help="templates timed per set-up")
    args = parser.parse_args()
    if REDIS_SERVER is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
