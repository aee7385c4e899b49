"""Load test: a real ``logclass serve`` under many concurrent clients, every answer checked.

    .venv/bin/python -m benchmarks.load [--levels 1,4,8,16,32,64] [--seconds 15] [--batch 100]

Starts ``tests/llm_server.py`` (answer delay ``--llm-delay-ms``) and ``logclass serve`` with
the embedding model warmed up and a fresh cache folder, both on 127.0.0.1; warms up with one
single-line request per pool template (the reference labels); then, per concurrency level,
runs that many clients for ``--seconds``, each posting ``--batch``-line mixed batches (see
``workload.py``) back to back. Reports requests/s, lines/s, latency percentiles of answered
requests, status codes, and the checks: lines lost, results on the wrong line, invalid or
unexpected labels. Exits 1 if any line was lost or misplaced, or any 5xx other than an
overload 503 was seen. Writes ``--json`` (default ``benchmarks/load/results.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.e2e.servers import REPO, ServerProcess, free_port
from benchmarks.load.client import LevelResult, run_level, warm_up
from benchmarks.load.workload import Mixer


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}"  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--levels", default="1,4,8,16,32,64", help="client counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=15.0, help="per level")
    parser.add_argument("--batch", type=int, default=100, help="lines per request")
    parser.add_argument("--llm-delay-ms", type=float, default=50.0)
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "load" / "results.json")
    args = parser.parse_args(argv)
    levels = [int(level) for level in args.levels.split(",")]

    results: list[LevelResult] = []
    load_before = os.getloadavg()
    summaries: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="logclass-load-") as folder:
        llm_port, port = free_port(), free_port()
        llm = ServerProcess(
            "llm", [sys.executable, str(REPO / "tests" / "llm_server.py"), "--port",
                    str(llm_port), "--delay-ms", str(args.llm_delay_ms)],
            {}, llm_port, health_path="/health",
        )  # fmt: skip
        env = {
            "LOGCLASS_LLM_BASE_URL": f"http://127.0.0.1:{llm_port}/v1",
            "LOGCLASS_BERT_WARMUP": "true",
            "LOGCLASS_CACHE_DIR": str(Path(folder) / "cache"),
            "LOGCLASS_LOG_LEVEL": "warning",
        }
        logclass = str(Path(sys.executable).with_name("logclass"))
        server = ServerProcess(
            "logclass", [logclass, "serve", "--host", "127.0.0.1", "--port", str(port)], env, port
        )
        with llm, server:
            print(f"logclass ready in {server.ready_seconds:.1f} s; warming up", file=sys.stderr)
            mixer = Mixer(seed=1)
            asyncio.run(warm_up(server.base_url, mixer))
            for level in levels:
                cpu = server.cpu_seconds()
                result = asyncio.run(
                    run_level(server.base_url, mixer, level, args.seconds, args.batch)
                )
                summary = result.summary()
                summary["server_cpu_s_per_s"] = round(
                    (server.cpu_seconds() - cpu) / result.seconds, 2
                )
                summary["server_peak_rss_mb"] = round(server.peak_rss / 2**20)
                print(json.dumps(summary), file=sys.stderr)
                results.append(result)
                summaries.append(summary)
    report = {
        "command": "python -m benchmarks.load " + " ".join(argv or sys.argv[1:]),
        "machine": machine(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average": {"start": load_before, "end": os.getloadavg()},  # 1, 5, 15 min
        "batch": args.batch,
        "llm_delay_ms": args.llm_delay_ms,
        "levels": summaries,
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    broken = any(
        r.tally.lost or r.tally.misplaced or r.tally.invalid_label or r.transport_errors
        or any(code >= 500 and code != 503 for code in r.statuses)
        for r in results
    )  # fmt: skip
    return 1 if broken else 0


def markdown(report: dict) -> str:
    rows = [
        "| clients | requests/s | lines/s | p50 ms | p95 ms | p99 ms | statuses | lost | "
        "misplaced | invalid labels | wrong labels | server CPU s/s | peak RSS MB |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for level in report["levels"]:
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(level["statuses"].items()))
        rows.append(
            f"| {level['concurrency']} | {level['requests_per_s']} | {level['lines_per_s']:.0f} "
            f"| {level['p50_ms']} | {level['p95_ms']} | {level['p99_ms']} | {statuses} "
            f"| {level['lost']} | {level['misplaced']} | {level['invalid_label']} "
            f"| {level['wrong_label']} | {level['server_cpu_s_per_s']} "
            f"| {level['server_peak_rss_mb']} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
