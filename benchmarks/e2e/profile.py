"""Where a server spends its CPU during a run: py-spy sampling, summarised by function.

py-spy attaches to the running server process (no code change, ``--nonblocking`` so the
server is never paused) and records every busy thread's stack. The summary gives each
function's share of the samples where it was on top of the stack (self time), and, for the
service's own functions, anywhere on it (inclusive time). It samples a separate, unmeasured
repeat of a run, so sampling costs nothing in the numbers the report shows.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.e2e import loadgen, workloads

if TYPE_CHECKING:
    from benchmarks.e2e.results import Results
    from benchmarks.e2e.runner import Plan
    from benchmarks.e2e.servers import ServerProcess

WAITS = ("Condition.wait ", "Event.wait ", "select ", "_worker (thread.py)")
PROJECT_PACKAGES = ("app", "processors", "monitoring")
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")


def py_spy() -> str | None:
    """The py-spy executable of this environment (the ``bench`` extra), or None."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.is_file() else shutil.which("py-spy")


@contextmanager
def sampling(pid: int, out: Path, rate: int = 100, limit: float = 600) -> Iterator[None]:
    """Record ``pid`` while the ``with`` body runs (at most ``limit`` s); py-spy writes
    ``out`` when it is interrupted at the end."""
    exe = py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed (pip install -e '.[bench]')")
    argv = [exe, "record", "--pid", str(pid), "--rate", str(rate), "--duration",
            str(round(limit)), "--format", "raw", "--nonblocking", "-o", str(out)]  # fmt: skip
    recorder = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        try:
            recorder.wait(timeout=30)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait(timeout=5)


def profile_runs(
    plan: Plan, wl: dict[str, workloads.Workload], server: ServerProcess, tmp: Path,
    results: Results,
) -> None:  # fmt: skip
    """Sample the server on a repeat of the warm Loghub run and on fresh distinct lines."""
    if py_spy() is None:
        results.skipped.append("profiles: py-spy is not installed")
        return
    runs = {}
    if "loghub" in wl:
        runs[f"warm loghub, batch {plan.batch}"] = (wl["loghub"], plan.warm_seconds, False)
    if "distinct" in wl:
        fresh = workloads.distinct(min(300, len(wl["distinct"])), seed=99)  # all misses
        runs[f"distinct (all misses), batch {plan.batch}"] = (fresh, plan.run_seconds, True)
    for title, (workload, seconds, one_pass) in runs.items():
        batches = workload.batches(plan.batch)
        raw = tmp / f"profile-{len(results.profiles)}.txt"
        with sampling(server.pid, raw):
            loadgen.run(
                server.base_url, workload.bodies(plan.batch), [len(b) for b in batches],
                concurrency=plan.concurrency, max_requests=len(batches) if one_pass else 10**6,
                max_seconds=seconds,
            )  # fmt: skip
        if raw.is_file():
            results.profiles[title] = summarise(raw)


def summarise(raw: Path, top: int = 10) -> dict[str, list[tuple[str, float]]]:
    """``{"self": [(function, share)], "project": [...]}`` from py-spy's collapsed stacks.

    ``self``: where the CPU was (any code); ``project``: inclusive time of the service's own
    functions (``app/``, ``processors/``, ``monitoring/``), to say which step costs what.
    """
    own: Counter[str] = Counter()
    ours: Counter[tuple[str, bool]] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_parse(frame) for frame in stack.split(";")]
        if frames[-1][0].startswith(WAITS):
            continue  # a thread blocked in a wait that the sampler still counted as busy
        n = int(count)
        total += n
        own[frames[-1][0]] += n
        for name, path in {frame for frame in frames if _is_project(frame[1])}:
            ours[(name, _is_library(path))] += n
    if not total:
        return {"self": [], "project": []}
    # the HTTP plumbing on nearly every stack (CLI, middleware chain) says nothing: left out;
    # the classification library (processors/) is always shown, it is what a step costs
    steps = [(name, n) for (name, library), n in ours.most_common()
             if library or n < 0.9 * total]  # fmt: skip
    return {
        "self": [(name, round(n / total, 3)) for name, n in own.most_common(top)],
        "project": [(name, round(n / total, 3)) for name, n in steps[:top]],
    }


def _is_library(path: str) -> bool:
    return "processors" in Path(path).parts[-3:-1]


def _is_project(path: str) -> bool:
    parts = Path(path).parts
    return any(part in PROJECT_PACKAGES for part in parts[-3:-1]) and "site-packages" not in parts


def _parse(frame: str) -> tuple[str, str]:
    """``mask (/repo/processors/templates.py:182)`` → (``mask (templates.py)``, its path)."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip(), ""
    path = match.group("file")
    return f"{match.group('name')} ({Path(path).name})", path
