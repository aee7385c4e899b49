"""What the run ran on, captured when it runs (so a redrawn report keeps the run's facts).

The load average is part of it: the machine is shared, and a number taken while other work
kept both cores busy says so.
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("torch", "sentence-transformers", "fastapi", "uvicorn", "httpx", "numpy")


def describe() -> dict[str, Any]:
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _commit(),
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "load_at_start": load(),
    }


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages (runnable processes; 2 = both cores busy)."""
    return [round(x, 2) for x in os.getloadavg()]


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def _commit() -> str:
    repo = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=repo, timeout=5)  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                "app", "processors", "monitoring", "benchmarks/e2e"],
                               capture_output=True, text=True, cwd=repo, timeout=5)  # fmt: skip
        commit = out.stdout.strip() or "unknown"
        return commit + (" + uncommitted changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
