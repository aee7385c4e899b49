"""Sidecar ingest throughput: shipper batches through a real logclass process to a real sink.

Run from the repo root:  .venv/bin/python benchmarks/bench_ingest.py [--rounds 3]

Events are the 16,000 raw lines of ``../shared/data/loghub/*_2k.log`` shaped as syslog-ng
sends them (timestamp, host, program = the system, file, message). logclass runs as a
process (``logclass serve``, or the tests' uvicorn launcher while app/main.py does not wire
the sidecar yet) with the default taxonomy routed ``[regex, bert]`` (no LLM server here),
one torch thread, and ``LOGCLASS_FORWARD_URL`` pointing at a keep-alive loopback sink in
another process that reads and discards each body. One shipper connection posts batches
one after another and waits for each 2xx, as syslog-ng's ``workers(1)`` does; a 2xx means
the enriched batch reached the sink. A first NDJSON pass warms the template cache.

Measured in alternating rounds (best round reported): NDJSON, JSON array and OTLP protobuf
batches of 500, and the naive baseline, one event per request (syslog-ng's ``http()``
without batching, or a per-event enrichment call), on the first 2,000 events.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

try:
    import psutil  # the test extra has it; only the memory line needs it
except ImportError:  # pragma: no cover
    psutil = None

LOGHUB = ROOT / ".." / "shared" / "data" / "loghub"
SYSTEMS = ("Apache", "BGL", "HDFS", "Linux", "OpenSSH", "OpenStack", "Spark", "Zookeeper")
BATCH = 500
BASELINE_EVENTS = 2_000


def load_events() -> list[dict]:
    events = []
    for system in SYSTEMS:
        path = LOGHUB / f"{system}_2k.log"
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines()):
            events.append(
                {
                    "timestamp": f"2026-11-27T10:{n // 60 % 60:02d}:{n % 60:02d}+00:00",
                    "host": "vm",
                    "program": system,
                    "file": str(path.name),
                    "message": line,
                }
            )
    return events


def ndjson_body(events: list[dict]) -> tuple[bytes, str]:
    return "\n".join(json.dumps(e) for e in events).encode(), "application/x-ndjson"


def array_body(events: list[dict]) -> tuple[bytes, str]:
    return json.dumps(events).encode(), "application/json"


def otlp_body(events: list[dict]) -> tuple[bytes, str]:
    from app.sidecar.convert import events_to_otlp
    from app.sidecar.events import EventFields

    return events_to_otlp(events, EventFields()).SerializeToString(), "application/x-protobuf"


def run_pass(
    client: httpx.Client, url: str, bodies: list[tuple[bytes, str]], events: int
) -> tuple[float, int]:
    """Events per second for posting ``bodies`` one after another until each is answered
    2xx, as a shipper does: a 503 is re-sent after its ``Retry-After`` (and counted)."""
    started = time.perf_counter()
    retried = 0
    for content, content_type in bodies:
        while True:
            response = client.post(url, content=content, headers={"Content-Type": content_type})
            if response.status_code == 200:
                break
            if response.status_code != 503:
                raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
            retried += 1
            time.sleep(float(response.headers.get("Retry-After", 1)))
    return events / (time.perf_counter() - started), retried


def serve_sink(port: int) -> None:
    """The forward target: HTTP/1.1 keep-alive, reads each body, answers 200."""

    class Sink(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    ThreadingHTTPServer(("127.0.0.1", port), Sink).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        return serve_sink(args.sink)
    if not LOGHUB.is_dir():
        raise SystemExit(f"{LOGHUB} is absent: the benchmark reads Loghub lines from it")

    from processors.taxonomy import DEFAULT_TAXONOMY_PATH
    from tests.conftest import free_port
    from tests.sidecar.service import running_process

    events = load_events()
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    modes: dict[str, tuple[str, list[tuple[bytes, str]], int]] = {
        f"NDJSON, batches of {BATCH}": ("/api/v1/ingest", [ndjson_body(b) for b in batches], 0),
        f"JSON array, batches of {BATCH}": ("/api/v1/ingest", [array_body(b) for b in batches], 0),
        f"OTLP protobuf, batches of {BATCH}": ("/v1/logs", [otlp_body(b) for b in batches], 0),
        "baseline: one event per request": (
            "/api/v1/ingest",
            [ndjson_body([e]) for e in events[:BASELINE_EVENTS]],
            BASELINE_EVENTS,
        ),
    }
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, __file__, "--sink", str(sink_port)])
    best: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            taxonomy = workdir / "taxonomy.yaml"
            text = DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8")
            taxonomy.write_text(
                text.replace("default: [regex, bert, llm]", "default: [regex, bert]")
            )
            with (
                running_process(
                    workdir,
                    taxonomy=str(taxonomy),
                    forward_url=f"http://127.0.0.1:{sink_port}/sink",
                    bert_threads="1",
                    log_level="warning",
                ) as (base, process),
                httpx.Client(base_url=base, timeout=120) as client,
            ):
                started = time.perf_counter()
                ndjson_batches = modes[f"NDJSON, batches of {BATCH}"][1]
                cold, retried = run_pass(client, "/api/v1/ingest", ndjson_batches, len(events))
                print(
                    f"cold pass (loads the model, fills the cache): {cold:,.0f} events/s, "
                    f"{time.perf_counter() - started:.1f} s; {retried} answer(s) were 503 "
                    "and the batch was re-sent",
                    flush=True,
                )
                for n in range(args.rounds):
                    for name, (path, bodies, count) in modes.items():
                        rate, retried = run_pass(client, path, bodies, count or len(events))
                        best[name] = max(best.get(name, 0.0), rate)
                        again = f" ({retried} re-sent after 503)" if retried else ""
                        print(f"round {n + 1}: {name}: {rate:,.0f} events/s{again}", flush=True)
                rss = psutil.Process(process.pid).memory_info().rss if psutil else 0
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    baseline = best["baseline: one event per request"]
    if rss:
        print(f"service RSS after the run: {rss / 2**20:,.0f} MiB")
    print(f"\n| mode | events/s (best of {args.rounds}) | vs baseline |\n|---|---:|---:|")
    for name, rate in best.items():
        print(f"| {name} | {rate:,.0f} | {rate / baseline:.1f}x |")


if __name__ == "__main__":
    main()
