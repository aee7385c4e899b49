"""Does the service stay responsive while it chews on one huge batch? (issue 15, item 8)

    .venv/bin/python -m benchmarks.load.health_under_batch [--mib 16] [--lines 10000]

Starts a real ``logclass serve`` (model warmed up, fresh cache, no LLM) on 127.0.0.1 and
measures ``GET /api/v1/health`` latency every 20 ms: first while idle, then while one
``--mib`` MiB JSON batch of ``--lines`` distinct lines (every line its own template, so
every line is masked and classified) is posted to ``/api/v1/classify``. The goal: health
p99 ≤ 100 ms under the batch. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import string
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.e2e.servers import ServerProcess, free_port

WORDS = ("worker", "disk", "session", "queue", "request", "cache", "replica", "backup")


def distinct_batch(lines: int, mib: float, seed: int = 3) -> bytes:
    """``lines`` lines that mask to distinct templates, padded so the body is ``mib`` MiB."""
    rng = random.Random(seed)
    width = int(mib * 2**20 / lines) - 48  # JSON framing per line
    logs = []
    for n in range(lines):
        words = " ".join(
            "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(6)
        )
        head = f"{rng.choice(WORDS)} {words} state={n:x}z"
        logs.append({"source": "app", "log_message": (head + " " + "x" * width)[:width]})
    return json.dumps({"logs": logs}).encode()


async def probe(client: httpx.AsyncClient, until: asyncio.Event, every: float) -> list[float]:
    latencies = []
    while not until.is_set():
        started = time.perf_counter()
        response = await client.get("/api/v1/health")
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200
        await asyncio.sleep(every)
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def measure(base_url: str, body: bytes, idle_seconds: float) -> dict[str, dict]:
    limits = httpx.Limits(max_connections=4)
    async with httpx.AsyncClient(base_url=base_url, timeout=600, limits=limits) as client:
        stop = asyncio.Event()
        idle_probe = asyncio.create_task(probe(client, stop, 0.02))
        await asyncio.sleep(idle_seconds)
        stop.set()
        idle = await idle_probe
        stop = asyncio.Event()
        busy_probe = asyncio.create_task(probe(client, stop, 0.02))
        started = time.perf_counter()
        response = await client.post(
            "/api/v1/classify", content=body, headers={"Content-Type": "application/json"}
        )
        batch_seconds = time.perf_counter() - started
        stop.set()
        busy = await busy_probe
    assert response.status_code == 200, response.text[:300]
    results = response.json()["results"]
    return {
        "idle": summary(idle),
        "under batch": summary(busy) | {"batch_s": round(batch_seconds, 1),
                                        "lines": len(results)},
    }


def summary(latencies: list[float]) -> dict:
    return {
        "probes": len(latencies),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load.health_under_batch",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=float, default=15.5, help="body size (limit: 16 MiB)")
    parser.add_argument("--lines", type=int, default=2_000, help="lines (limit: 10,000)")
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    body = distinct_batch(args.lines, args.mib)
    print(f"batch: {len(body) / 2**20:.1f} MiB, {args.lines} distinct lines", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="logclass-health-") as folder:
        port = free_port()
        env = {"LOGCLASS_BERT_WARMUP": "true", "LOGCLASS_CACHE_DIR": str(Path(folder) / "c"),
               "LOGCLASS_LOG_LEVEL": "warning"}
        logclass = str(Path(sys.executable).with_name("logclass"))
        argv_ = [logclass, "serve", "--host", "127.0.0.1", "--port", str(port)]
        with ServerProcess("logclass", argv_, env, port) as server:
            result = asyncio.run(measure(server.base_url, body, args.idle_seconds))
    print("| health probes | n | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|")
    for name, row in result.items():
        print(f"| {name} | {row['probes']} | {row['p50_ms']} | {row['p99_ms']} | {row['max_ms']} |")
    batch = result["under batch"]
    print(f"\nbatch answered in {batch['batch_s']} s ({batch['lines']} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
