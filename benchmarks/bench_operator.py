"""The operator's loop: what corrections and template counts cost the warm path, and how
fast ``GET /api/v1/templates`` answers after 100,000 distinct templates.

Run from the repo root:  .venv/bin/python benchmarks/bench_operator.py [--repeat 5]

Warm path: all 16,000 Loghub lines (``Content``, source = system) in batches of 1,000
through ``Classifier.classify`` with a memory cache already holding every template (the
model tier answers a fixed label, so only the pipeline is timed), side by side in one run:

- ``before``             no corrections store and template counting switched off (the
                         pipeline as it was before the operator loop);
- ``counts``             template counting on, no corrections store;
- ``counts + empty``     counting on, an empty corrections store (the default service);
- ``counts + 100``       counting on, 100 corrections of templates these lines never have.

Templates endpoint: a real app (in-process ASGI) whose top-k saw 100,000 distinct
templates; median of 50 ``GET /api/v1/templates?limit=50`` (and ``limit=1000``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_cache import load_lines  # noqa: E402
from processors.cache import TemplateCache  # noqa: E402
from processors.corrections import CorrectionStore  # noqa: E402
from processors.pipeline import Classifier  # noqa: E402
from processors.records import Decision, Outcome  # noqa: E402
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy  # noqa: E402
from processors.template_stats import TemplateStats  # noqa: E402

TAXONOMY = Taxonomy.load(DEFAULT_TAXONOMY_PATH)


class FixedTier:
    name = "bert"
    fingerprint = "fixed"

    async def decide(self, templates: Sequence[str]) -> list[Decision]:
        return [Decision("System Notification", 0.9) for _ in templates]

    def health(self) -> dict:
        return {"status": "ok"}

    async def aclose(self) -> None:
        pass


class NoCounting(TemplateStats):
    def record(self, counts) -> None:  # type: ignore[no-untyped-def, override]
        pass


def build(variant: str, folder: Path) -> Classifier:
    store = None
    if variant != "before" and variant != "counts":
        store = CorrectionStore(folder / f"{variant}.yaml", TAXONOMY.label_names)
        if variant == "counts + 100":
            for n in range(100):
                store.add("default", f"never seen template {n} <NUM>", "Error")
    stats = NoCounting() if variant == "before" else TemplateStats()
    return Classifier(TAXONOMY, {"bert": FixedTier()}, TemplateCache(None),
                      corrections=store, template_stats=stats)


async def warm_rate(classifiers: dict[str, Classifier], lines: list, repeat: int) -> dict:
    batches = [lines[i:i + 1000] for i in range(0, len(lines), 1000)]
    for classifier in classifiers.values():  # fill the caches
        for batch in batches:
            await classifier.classify(batch)
    best: dict[str, float] = {name: 0.0 for name in classifiers}
    for _ in range(repeat):  # interleaved, so machine noise hits every variant alike
        for name, classifier in classifiers.items():
            started = time.perf_counter()
            for batch in batches:
                await classifier.classify(batch)
            best[name] = max(best[name], len(lines) / (time.perf_counter() - started))
    return best


async def templates_latency(distinct: int, folder: Path) -> dict[str, float]:
    from app.main import create_app
    from app.settings import Settings
    from tests.conftest import app_client

    classifier = build("counts + empty", folder)
    outcome = Outcome("Error", 0.5, "bert", None)
    for start in range(0, distinct, 1_000):
        rows = range(start, start + 1_000)
        classifier.template_stats.record([(("default", f"t {n}"), 1 + n % 97, outcome)
                                          for n in rows])
    out = {}
    settings = Settings(cache_dir=folder / "cache")
    async with app_client(create_app(settings, classifier=classifier)) as http:
        for limit in (50, 1000):
            times = []
            for _ in range(50):
                started = time.perf_counter()
                response = await http.get("/api/v1/templates", params={"limit": limit})
                times.append(time.perf_counter() - started)
                assert response.status_code == 200
            out[f"limit={limit}"] = statistics.median(times) * 1000
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    lines = load_lines()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        variants = ["before", "counts", "counts + empty", "counts + 100"]
        rates = asyncio.run(warm_rate({v: build(v, folder) for v in variants}, lines,
                                      args.repeat))
        latency = asyncio.run(templates_latency(100_000, folder))
    print(f"warm path, {len(lines):,} Loghub lines, batches of 1,000 (best of {args.repeat}):")
    print("| variant | lines/s | vs before |\n|---|---:|---:|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:,.0f} | {rate / rates['before']:.3f} |")
    print("\nGET /api/v1/templates after 100,000 distinct templates (median of 50):")
    for name, ms in latency.items():
        print(f"- {name}: {ms:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
