"""`logclass serve` from process start: health, first BERT verdict, memory, per backend.

Run from the repo root:  .venv/bin/python benchmarks/bench_cold_start.py [--rounds 3]
    [--backends torch,onnx,onnx-int8] [--threads 0]

For each configuration, in alternating order per round, a fresh ``logclass serve`` on a free
loopback port with a fresh cache folder (the ONNX files, exported once beforehand, are
copied in: an export is a first-install cost, reported apart) is started, and this script
times from ``Popen`` to:
  health    the first 200 of ``GET /api/v1/health`` (polled every 10 ms);
  verdict   the answer to one ``POST /api/v1/classify`` sent as soon as health answered,
            whose line the BERT tier decides (it waits for the model if still loading);
then reads the server's RSS (``/proc/PID/status`` VmRSS and its peak VmHWM) after that
verdict and again after every distinct Loghub template was classified.
``torch, lazy`` is how the service started before: torch backend, no background load.
The median of the rounds is reported (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from processors.encoders import default_model_path, exported_model  # noqa: E402

LINE = {"source": "ModernHR",
        "log_message": "Multiple login failures occurred on user 6454 account"}
TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_memory(pid: int) -> dict[str, float]:
    fields = {}
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = row.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def post(url: str, body: dict[str, Any], timeout: float = TIMEOUT) -> dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read())


def one_start(env: dict[str, str], encoders_dir: Path | None, templates: list[str]
              ) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="cold-") as cache:
        if encoders_dir is not None:
            shutil.copytree(encoders_dir, Path(cache) / "encoders")
        env = {**os.environ, **env, "LOGCLASS_CACHE_DIR": cache, "LOGCLASS_PORT": str(port)}
        env.pop("LOGCLASS_LLM_BASE_URL", None)
        base = f"http://127.0.0.1:{port}/api/v1"
        started = time.perf_counter()
        server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "logclass"), "serve"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            health = None
            while health is None:
                if server.poll() is not None or time.perf_counter() - started > TIMEOUT:
                    raise RuntimeError(f"server did not answer: {server.stderr.read()[-800:]!r}")
                try:
                    with urllib.request.urlopen(f"{base}/health", timeout=1) as answer:
                        if answer.status == 200:
                            health = time.perf_counter() - started
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    time.sleep(0.01)
            verdict = post(f"{base}/classify", {"logs": [LINE]})["results"][0]
            first = time.perf_counter() - started
            at_first = proc_memory(server.pid)
            for i in range(0, len(templates), 100):
                post(f"{base}/classify", {"logs": [{"source": "bench", "log_message": t}
                                                   for t in templates[i:i + 100]]})
            served = proc_memory(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    if verdict["tier"] != "bert":
        raise RuntimeError(f"the first verdict was not BERT's: {verdict}")
    return {"health_s": health, "verdict_s": first, "label": verdict["label"],
            "rss_first_mb": at_first["VmRSS"], "rss_served_mb": served["VmRSS"],
            "peak_rss_mb": served["VmHWM"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="torch,onnx,onnx-int8")
    parser.add_argument("--threads", type=int, default=0, help="LOGCLASS_BERT_THREADS")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_encoders import LOGHUB, loghub_templates

    templates = loghub_templates() if LOGHUB.is_dir() else []
    prepared = Path(tempfile.mkdtemp(prefix="cold-encoders-"))
    exported: dict[str, float] = {}
    for quantize in (False, True):
        started = time.perf_counter()
        exported_model(default_model_path(), quantize, prepared)
        exported["int8" if quantize else "fp32"] = time.perf_counter() - started
    common = {"LOGCLASS_BERT_THREADS": str(args.threads)}
    configs: dict[str, tuple[dict[str, str], Path | None]] = {
        "torch, lazy (before)": ({**common, "LOGCLASS_BERT_BACKEND": "torch",
                                  "LOGCLASS_BERT_PRELOAD": "false"}, None)}
    for backend in args.backends.split(","):
        configs[f"{backend}, preload"] = ({**common, "LOGCLASS_BERT_BACKEND": backend,
                                          "LOGCLASS_BERT_PRELOAD": "true"},
                                         prepared / "encoders")
    configs["onnx, first start ever (exports)"] = (
        {**common, "LOGCLASS_BERT_BACKEND": "onnx", "LOGCLASS_BERT_PRELOAD": "true"}, None)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    for round_no in range(args.rounds):
        names = list(configs) if round_no % 2 == 0 else list(reversed(configs))
        for name in names:
            if name.endswith("(exports)") and runs[name]:
                continue  # once is enough to know what an export costs
            result = one_start(*configs[name], templates)
            runs[name].append(result)
            print(f"round {round_no + 1} {name}: {json.dumps(result)}", file=sys.stderr)
    shutil.rmtree(prepared, ignore_errors=True)
    print(f"`logclass serve`, median of {args.rounds} starts, LOGCLASS_BERT_THREADS="
          f"{args.threads}; the ONNX export itself (once per model and machine, run "
          f"beforehand here): fp32 {exported['fp32']:.0f} s, int8 from it "
          f"{exported['int8']:.0f} s\n")
    print("| configuration | health 200 (s) | first BERT verdict (s) | RSS at first verdict "
          "(MB) | RSS after 423 templates (MB) | peak RSS (MB) |\n|---|---:|---:|---:|---:|---:|")
    for name, results in runs.items():
        def med(key: str, results: list[dict[str, Any]] = results) -> float:
            return statistics.median(r[key] for r in results)

        print(f"| {name} | {med('health_s'):.2f} | {med('verdict_s'):.2f} | "
              f"{med('rss_first_mb'):.0f} | {med('rss_served_mb'):.0f} | "
              f"{med('peak_rss_mb'):.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
