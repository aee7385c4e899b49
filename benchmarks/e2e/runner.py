"""The plan of one benchmark run: which server, which workload, which batch size, how long.

Servers run one at a time (the machine has two cores), all against the same LLM test server
(fixed answer delay) and the same workloads. Each measurement is bounded in requests and in
seconds; a run that hits its time bound says so in its note instead of running on.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from benchmarks.e2e import loadgen, machine, workloads
from benchmarks.e2e.results import Results, Row, Startup
from benchmarks.e2e.servers import LlmTestServer, ServerProcess, logclass_server, reference_server

MB = 1024 * 1024
CYCLE = 10**6  # "as many requests as fit in the time bound"
PROBE = "Disk usage on volume data-7 reached 91% of its quota, writes will soon fail"


@dataclass(frozen=True)
class Plan:
    """Sizes and bounds; :data:`FULL` for ``make bench``, :data:`QUICK` for the smoke test."""

    loghub_per_system: int | None = None  # None: all 2,000 lines of each system
    mix_lines: int = 2_000
    distinct_lines: int = 1_000
    reference_lines: int = 400  # the reference runs on an even subset of each workload
    batch: int = 1_000
    small_batch: int = 100
    concurrency: int = 4
    warm_seconds: float = 8.0
    latency_seconds: float = 6.0
    run_seconds: float = 45.0  # bound of any one measurement
    llm_delay_ms: float = 50.0
    reference: bool = True
    cache_off: bool = True
    variants: bool = True  # tuned logclass settings (see VARIANTS), first passes only
    encode_baseline: bool = True
    profile: bool = True  # py-spy on an extra, unmeasured warm run and all-distinct run


FULL = Plan()
QUICK = Plan(
    loghub_per_system=25, mix_lines=100, distinct_lines=60, reference_lines=30, batch=50,
    small_batch=10, concurrency=2, warm_seconds=1.0, latency_seconds=0.5, run_seconds=10.0,
    cache_off=False, variants=False, encode_baseline=False, profile=False,
)  # fmt: skip


def load_workloads(plan: Plan, results: Results) -> dict[str, workloads.Workload]:
    """The workloads this machine can build; an absent one is listed in ``skipped``."""
    found: dict[str, workloads.Workload] = {}
    makers = {
        "loghub": lambda: workloads.loghub(plan.loghub_per_system),
        "mix": lambda: workloads.mix(plan.mix_lines),
        "distinct": lambda: workloads.distinct(plan.distinct_lines),
    }
    for name, make in makers.items():
        try:
            found[name] = make()
        except workloads.WorkloadUnavailable as exc:
            results.skipped.append(f"workload {name}: {exc}")
    return found


def measure(
    config: str,
    server: ServerProcess,
    llm: LlmTestServer,
    workload: workloads.Workload,
    *,
    phase: str,
    batch: int,
    concurrency: int,
    seconds: float,
    one_pass: bool,
) -> Row:
    """Drive ``server`` with ``workload`` and read its CPU and the LLM server's call count."""
    batches = workload.batches(batch)
    llm.reset()
    client = psutil.Process()
    client_before = sum(client.cpu_times()[:2])
    cpu_before = server.cpu_seconds()
    run = loadgen.run(
        server.base_url, workload.bodies(batch), [len(b) for b in batches],
        concurrency=concurrency, max_requests=len(batches) if one_pass else CYCLE,
        max_seconds=seconds, keep_labels=workload.labelled,
    )  # fmt: skip
    cpu = server.cpu_seconds() - cpu_before
    client_cpu = sum(client.cpu_times()[:2]) - client_before
    calls = llm.calls()
    per_1k = 1000 / run.lines if run.lines else None
    note = []
    if one_pass and run.requests < len(batches):
        note.append(f"time bound: {run.requests}/{len(batches)} batches in {seconds:.0f} s")
    if run.errors:
        note.append(f"{run.errors} errors, first: {run.first_error}")
    return Row(
        config, workload.name, phase, batch, concurrency, run.lines, run.requests, run.errors,
        round(run.seconds, 3), round(run.lines_per_second, 1),
        _round(run.percentile_ms(50)), _round(run.percentile_ms(95)), _round(run.percentile_ms(99)),
        _round(cpu * per_1k if per_1k else None, 4), _round(calls * per_1k if per_1k else None),
        dict(run.tiers), round(run.cached / run.lines, 3) if run.lines else 0.0,
        _accuracy(run, batches), "; ".join(note),
        _round(client_cpu * per_1k if per_1k else None, 4),
    )  # fmt: skip


def _accuracy(run: loadgen.RunResult, batches: list[tuple[workloads.Line, ...]]) -> float | None:
    pairs = [
        (got, line.label)
        for index, labels in run.labels.items()
        for got, line in zip(labels, batches[index], strict=True)
        if line.label is not None
    ]
    return round(sum(got == want for got, want in pairs) / len(pairs), 4) if pairs else None


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def first_model_verdict(server: ServerProcess, startup: Startup) -> None:
    """Post one line no regex rule decides; the answer needs the model (loaded lazily)."""
    body = {"logs": [{"source": "ModernCRM", "log_message": PROBE}]}
    response = httpx.post(
        f"{server.base_url}/api/v1/classify", json=body, timeout=300, trust_env=False
    )
    response.raise_for_status()
    startup.first_model_s = round(server.since_start(), 3)
    startup.first_model_tier = response.json()["results"][0]["tier"]


def _startup(name: str, server: ServerProcess) -> Startup:
    startup = Startup(name, round(server.ready_seconds or 0.0, 3))
    startup.ready_rss_mb = round((server.ready_rss or 0) / MB, 1)
    first_model_verdict(server, startup)
    return startup


SHIPPED, CACHE_OFF = "logclass", "logclass, cache off"
ONE_THREAD, BIG_BATCHES = "logclass, 1 torch thread", "logclass, 2048-token batches"
VARIANTS = {  # name → (cache on, extra LOGCLASS_* settings, repeat runs after the first pass)
    SHIPPED: (True, {}, True),
    CACHE_OFF: (False, {}, True),
    ONE_THREAD: (True, {"LOGCLASS_BERT_THREADS": "1"}, False),
    BIG_BATCHES: (True, {"LOGCLASS_BERT_MAX_BATCH_TOKENS": "2048"}, False),
}


def run_logclass(
    plan: Plan, wl: dict[str, workloads.Workload], llm: LlmTestServer, cache_dir: Path,
    results: Results, name: str,
) -> None:  # fmt: skip
    """One logclass variant: a first pass over each workload, then (if it repeats) warm runs
    of the big batches (cache on only) and a 1-in-flight run of small batches."""
    cached, settings, repeats = VARIANTS[name]
    with logclass_server(name, cache_dir, llm.chat_base_url, cached, settings) as server:
        startup = _startup(name, server)
        common = {"batch": plan.batch, "concurrency": plan.concurrency}
        for key in ("loghub", "mix", "distinct"):
            if key not in wl:
                continue
            phase = "cold" if cached else "pass"
            results.rows.append(measure(name, server, llm, wl[key], phase=phase,
                                        seconds=plan.run_seconds, one_pass=True, **common))
            if cached and repeats and key != "distinct":
                results.rows.append(measure(name, server, llm, wl[key], phase="warm",
                                            seconds=plan.warm_seconds, one_pass=False, **common))
        if repeats and "loghub" in wl:
            results.rows.append(measure(
                name, server, llm, wl["loghub"], phase="warm" if cached else "pass",
                batch=plan.small_batch, concurrency=1, seconds=plan.latency_seconds,
                one_pass=False,
            ))  # fmt: skip
        startup.peak_rss_mb = round(server.peak_rss / MB, 1)
        results.startups.append(startup)
        if name == SHIPPED and plan.profile:
            from benchmarks.e2e import profile

            profile.profile_runs(plan, wl, server, cache_dir.parent, results)


def run_reference(
    plan: Plan, wl: dict[str, workloads.Workload], llm: LlmTestServer, results: Results
) -> None:
    """The reference design on an even subset of each workload (it is ~hundreds of x slower)."""
    name = "reference"
    with reference_server(name, llm.chat_base_url) as server:
        startup = _startup(name, server)
        for key in ("loghub", "mix", "distinct"):
            if key not in wl:
                continue
            subset = wl[key].subset(plan.reference_lines)
            results.rows.append(measure(
                name, server, llm, subset, phase="pass", batch=plan.small_batch,
                concurrency=plan.concurrency, seconds=plan.run_seconds, one_pass=True,
            ))  # fmt: skip
        if "loghub" in wl:
            results.rows.append(measure(
                name, server, llm, wl["loghub"].subset(plan.reference_lines), phase="latency",
                batch=plan.small_batch, concurrency=1, seconds=plan.latency_seconds * 2,
                one_pass=True,
            ))  # fmt: skip
        startup.peak_rss_mb = round(server.peak_rss / MB, 1)
        results.startups.append(startup)


class BareEncoder:
    """A bare, batched ``model.encode`` in this process: the ceiling for all-miss traffic.

    Loaded once; :meth:`measure` runs between server runs (never during one), several
    times, with 1 and with all torch threads, because the shared machine's load changes from
    minute to minute and decides which thread count is faster.
    """

    def __init__(self, workload: workloads.Workload, lines: int = 300, batch_size: int = 32):
        from processors.bert import load_encoder
        from processors.templates import mask

        sample = workload.subset(lines).lines
        self.templates = [mask(line.message) for line in sample]
        self.batch_size = batch_size
        self.encoder = load_encoder()
        self.encoder.model.encode(self.templates[:batch_size], batch_size=batch_size)  # warm-up
        self.rates: dict[str, list[float]] = {}

    def measure(self) -> None:
        import torch

        for threads in sorted({1, os.cpu_count() or 1}):
            torch.set_num_threads(threads)
            started = time.perf_counter()
            self.encoder.model.encode(self.templates, batch_size=self.batch_size)
            rate = round(len(self.templates) / (time.perf_counter() - started), 1)
            self.rates.setdefault(str(threads), []).append(rate)


def run(plan: Plan) -> Results:
    """Every configuration, one after the other, on the same workloads.

    A configuration that cannot start or dies mid-way is listed in ``skipped`` (with the
    reason) and the others still run, so one broken server never costs the whole run.
    """
    started = time.perf_counter()
    results = Results(plan=dataclasses.asdict(plan), machine=machine.describe())
    wl = load_workloads(plan, results)
    bare = BareEncoder(wl["distinct"]) if plan.encode_baseline and "distinct" in wl else None
    wanted = {SHIPPED: True, CACHE_OFF: plan.cache_off, ONE_THREAD: plan.variants,
              BIG_BATCHES: plan.variants}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="logclass-bench-") as tmp, LlmTestServer(
        plan.llm_delay_ms
    ) as llm:
        if bare:
            bare.measure()
        for name in (name for name, on in wanted.items() if on):
            folder = Path(tmp) / re.sub(r"\W+", "-", name)
            _guarded(results, name, lambda n=name, f=folder: run_logclass(
                plan, wl, llm, f, results, n))  # fmt: skip
            if bare:
                bare.measure()
        if plan.reference:
            _guarded(results, "reference", lambda: run_reference(plan, wl, llm, results))
    if bare:
        results.encode_rates = bare.rates
        best = max(rate for rates in bare.rates.values() for rate in rates)
        results.encode_lines_per_s = best  # the best the machine did: conservative
    results.seconds = round(time.perf_counter() - started, 1)
    results.machine["load_at_end"] = machine.load()
    return results


def _guarded(results: Results, name: str, step: Callable[[], None]) -> None:
    try:
        step()
    except (RuntimeError, OSError, httpx.HTTPError) as exc:
        results.skipped.append(f"{name}: {type(exc).__name__}: {exc}")
