"""LLM tier: batching + concurrency against one call per line, in the same run.

Run from the repo root:  .venv/bin/python benchmarks/bench_llm.py [--lines 1000]

Starts ``tests/llm_server.py`` as a real process on 127.0.0.1 with a fixed answer delay
(default 50 ms per call, optionally plus ``--per-line-ms`` per template in the call, to
model a server whose answer time grows with the labels it writes), then classifies
``--lines`` distinct undecided templates (Loghub ground-truth templates, made distinct)
with each configuration and prints lines/s and HTTP calls per 1,000 lines. The per-line
baselines run on ``--baseline-lines`` lines (they are slow by design); rates are per line.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitoring import MetricsRegistry  # noqa: E402
from processors.llm import LlmTier  # noqa: E402
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy  # noqa: E402
from tests.llm_fixtures import running_llm_server  # noqa: E402

LOGHUB = ROOT / ".." / "shared" / "data" / "loghub"


def distinct_templates(count: int) -> list[str]:
    """``count`` distinct templates: Loghub's, suffixed to stay distinct, else synthetic."""
    base: list[str] = []
    for path in sorted(LOGHUB.glob("*_structured.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            base.extend(row["EventTemplate"] for row in csv.DictReader(handle))
    base = list(dict.fromkeys(base)) or [f"Synthetic event <NUM> of kind {k}" for k in range(50)]
    return [f"{base[i % len(base)]} [{i // len(base)}]" for i in range(count)]


async def run(url: str, templates: list[str], batch: int, concurrency: int) -> tuple[float, int]:
    tier = LlmTier(
        Taxonomy.load(DEFAULT_TAXONOMY_PATH),
        url,
        "bench-model",
        registry=MetricsRegistry(),
        batch_size=batch,
        max_concurrency=concurrency,
        breaker_failures=10_000,
    )
    try:
        started = time.perf_counter()
        decisions = await tier.decide(templates)
        elapsed = time.perf_counter() - started
    finally:
        await tier.aclose()
    failed = sum(d.label is None for d in decisions)
    if failed:
        raise RuntimeError(f"{failed} of {len(templates)} lines got no label: {tier.health()}")
    calls = int(tier.registry.snapshot().counter("llm_calls", outcome="ok"))
    return elapsed, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--baseline-lines", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--per-line-ms", type=float, default=0.0)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    configs = [  # name, lines, batch size, concurrency
        ("one call per line, sequential (naive)", args.baseline_lines, 1, 1),
        (
            f"one call per line, {args.concurrency} in flight",
            args.baseline_lines,
            1,
            args.concurrency,
        ),
        (f"batches of {args.batch_size}, sequential", args.lines, args.batch_size, 1),
        (
            f"batches of {args.batch_size}, {args.concurrency} in flight",
            args.lines,
            args.batch_size,
            args.concurrency,
        ),
    ]
    server_args = ["--delay-ms", str(args.delay_ms), "--per-line-ms", str(args.per_line_ms)]
    print(f"test server: {args.delay_ms:g} ms per call + {args.per_line_ms:g} ms per line")
    print("| configuration | lines | seconds | lines/s | HTTP calls per 1,000 lines | speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    naive_rate = None
    with running_llm_server(*server_args) as server:
        for name, lines, batch, concurrency in configs:
            server.reset()
            elapsed, calls = asyncio.run(
                run(server.url(), distinct_templates(lines), batch, concurrency)
            )
            assert server.stats()["calls"] == calls, "client and server disagree on calls"
            rate = lines / elapsed
            naive_rate = naive_rate or rate
            print(
                f"| {name} | {lines} | {elapsed:.2f} | {rate:,.0f} | "
                f"{calls * 1000 / lines:,.0f} | {rate / naive_rate:.1f}x |"
            )


if __name__ == "__main__":
    main()
