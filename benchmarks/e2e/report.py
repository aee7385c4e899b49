"""BENCHMARKS.md's ``## End-to-end benchmark`` section: goals, all measurements, the machine.

Only that section is rewritten (from its heading to the next ``## `` heading); the rest of
the file, other engineers' sections included, is kept byte for byte. Goals are recorded,
never asserted: a miss is shown with its size. Hand-written analysis lives in
``benchmarks/e2e/NOTES.md`` and is included as it is, so a rerun does not erase it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks.e2e.results import Results

HEADING = "## End-to-end benchmark"
CONFIGS = {
    "logclass": "**logclass** as shipped (cache cold on the first pass, warm after), ",
    "logclass, cache off": "**logclass, cache off** (`LOGCLASS_CACHE_ENABLED=false`), ",
    "logclass, 1 torch thread": "**logclass, 1 torch thread** (`LOGCLASS_BERT_THREADS=1`, "
    "first passes only), ",
    "logclass, 2048-token batches": "**logclass, 2048-token batches** "
    "(`LOGCLASS_BERT_MAX_BATCH_TOKENS=2048`, first passes only), ",
}
NOTES = Path(__file__).with_name("NOTES.md")


@dataclass(frozen=True)
class Goal:
    name: str
    measured: float | None
    target: float
    unit: str
    at_least: bool  # True: measured >= target is met

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        return self.measured >= self.target if self.at_least else self.measured <= self.target

    def verdict(self) -> str:
        if self.met is None:
            return "not measured"
        if self.met:
            return "met"
        assert self.measured is not None
        if self.at_least:
            short = self.target / max(self.measured, 1e-9)
            return f"missed: {self.measured / self.target:.0%} of the target ({short:.1f}x short)"
        over = self.measured - self.target
        return f"missed by {over:.3g} {self.unit} (+{over / self.target:.0%})"


def goals(results: Results) -> list[Goal]:
    plan = results.plan
    big, small = plan["batch"], plan["small_batch"]
    warm = results.find("logclass", "loghub", "warm", big)
    cold = results.find("logclass", "loghub", "cold", big)
    ref = results.find("reference", "loghub", "pass", small)
    distinct = results.find("logclass", "distinct", "cold", big)
    latency = results.find("logclass", "loghub", "warm", small)
    one = results.find("logclass, 1 torch thread", "distinct", "cold", big)
    wide = results.find("logclass, 2048-token batches", "distinct", "cold", big)
    start = next((s for s in results.startups if s.config == "logclass"), None)

    def ratio(a: object, b: object) -> float | None:
        rate_a, rate_b = getattr(a, "lines_per_s", None), getattr(b, "lines_per_s", None)
        return round(rate_a / rate_b, 2) if rate_a and rate_b else None

    encode = results.encode_lines_per_s
    return [
        Goal(f"warm cache, {big}-line batches: lines/s over HTTP",
             warm.lines_per_s if warm else None, 20_000, "lines/s", True),
        Goal("warm cache vs the reference design (x)", ratio(warm, ref), 300, "x", True),
        Goal("cold cache, first Loghub pass vs the reference (x)", ratio(cold, ref), 20, "x", True),
        Goal("all-distinct stream vs bare batched model.encode (share)",
             round(distinct.lines_per_s / encode, 3) if distinct and encode else None,
             0.8, "", True),
        Goal("… the same with LOGCLASS_BERT_THREADS=1 (share)",
             round(one.lines_per_s / encode, 3) if one and encode else None, 0.8, "", True),
        Goal("… the same with LOGCLASS_BERT_MAX_BATCH_TOKENS=2048 (share)",
             round(wide.lines_per_s / encode, 3) if wide and encode else None, 0.8, "", True),
        Goal(f"p99 latency, warm {small}-line batch, 1 in flight (ms)",
             latency.p99_ms if latency else None, 25, "ms", False),
        Goal("ready: process start → /health answers (s)",
             start.ready_s if start else None, 2, "s", False),
        Goal("first model verdict after start (s)",
             start.first_model_s if start else None, 8, "s", False),
        Goal("RSS before the model loads (MB)", start.ready_rss_mb if start else None, 200,
             "MB", False),
        Goal("peak RSS with the model (MB)", start.peak_rss_mb if start else None, 700,
             "MB", False),
    ]  # fmt: skip


def machine(command: str, results: Results) -> list[str]:
    m = results.machine
    if not m:
        return [f"- Command: `{command}`."]
    versions = ", ".join(f"{name} {version}" for name, version in m["packages"].items())
    start, end = m.get("load_at_start"), m.get("load_at_end")
    return [
        f"- Command: `{command}` — run {m['when']}, {results.seconds:.0f} s in all, "
        f"commit `{m['commit']}`.",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; {m['os']}. "
        f"Shared: load average (1, 5, 15 min) {_loads(start)} at the start, {_loads(end)} at "
        "the end.",
        f"- Python {m['python']}; {versions}.",
    ]


def _loads(values: list[float] | None) -> str:
    return " / ".join(f"{v:.1f}" for v in values) if values else "?"


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def render(results: Results, command: str, chart: str | None) -> str:
    plan = results.plan
    configs = {row.config for row in results.rows}
    out = [HEADING, ""]
    out += machine(command, results)
    out += [
        "",
        "Configurations, one after the other on loopback (uvicorn, 1 worker each), driven by "
        "the same async httpx load generator with pre-encoded JSON bodies, every answer "
        "checked (status, one result per line): "
        + "".join(text for name, text in CONFIGS.items() if name in configs)
        + "and the **reference** design (`benchmarks/e2e/reference_server.py`: sync endpoint, "
        "regex rules one `re.search` at a time, `model.encode([line])` + head per line, one "
        "LLM call per LegacyCRM line, no cache; as in the original, a line the head is unsure "
        "of ends Unclassified, where logclass asks the LLM, so logclass does more work). "
        "The LLM is `tests/llm_server.py` with a fixed "
        f"{plan['llm_delay_ms']:.0f} ms answer delay. Workloads: `loghub` (raw lines of the 8 "
        f"Loghub 2k samples), `mix` ({plan['mix_lines']:,} labelled lines of "
        f"`processors.synthetic`, 5% LegacyCRM → LLM route), `distinct` "
        f"({plan['distinct_lines']:,} lines whose words differ: every one a cache miss). The "
        f"reference runs an even subset of {plan['reference_lines']} lines of each workload "
        "(its per-line cost does not depend on repetition). Each measurement is bounded "
        f"({plan['run_seconds']:.0f} s per pass, {plan['warm_seconds']:.0f} s warm). "
        "Before the first pass each server answered one probe line, so the model is loaded "
        "and the cold pass measures a cold *cache*, not the model load.",
        "",
    ]
    if chart:
        out += [f"![end-to-end benchmark]({chart})", ""]
    out += ["### Goals (recorded, not asserted)", "", "| goal | measured | target | verdict |",
            "|---|---:|---:|---|"]  # fmt: skip
    for goal in goals(results):
        sign = "≥" if goal.at_least else "≤"
        out.append(f"| {goal.name} | {_cell(goal.measured)} | {sign} {_cell(goal.target)} | "
                   f"{goal.verdict()} |")  # fmt: skip
    out += _context(results)
    out += ["", "### Measurements", "",
            "| config | workload | phase | batch | in flight | lines | lines/s | p50 ms | "
            "p95 ms | p99 ms | server CPU s / 1k lines | client CPU s / 1k lines | "
            "LLM calls / 1k lines | tiers | cached | accuracy | note |",
            "|" + "---|" * 17]  # fmt: skip
    for r in results.rows:
        tiers = ", ".join(f"{k} {v}" for k, v in sorted(r.tiers.items()))
        cells = (r.config, r.workload, r.phase, r.batch, r.concurrency, r.lines, r.lines_per_s,
                 r.p50_ms, r.p95_ms, r.p99_ms, r.cpu_s_per_1k, r.client_cpu_s_per_1k,
                 r.llm_calls_per_1k, tiers,
                 f"{r.cached_share:.0%}", r.accuracy, r.note)  # fmt: skip
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    out += ["", "### Cold start and memory", "",
            "| config | /health answers (s) | first model verdict (s, tier) | RSS at ready (MB) | "
            "peak RSS (MB) |", "|---|---:|---:|---:|---:|"]  # fmt: skip
    for s in results.startups:
        out.append(f"| {s.config} | {_cell(s.ready_s)} | {_cell(s.first_model_s)} "
                   f"({s.first_model_tier}) | {_cell(s.ready_rss_mb)} | {_cell(s.peak_rss_mb)} |")
    out += _profiles(results)
    if results.skipped:
        out += ["", "Skipped: " + "; ".join(results.skipped) + "."]
    if NOTES.is_file():
        out += ["", NOTES.read_text(encoding="utf-8").strip()]
    return "\n".join(out) + "\n"


def _context(results: Results) -> list[str]:
    """The numbers that say what bounds the goals: the encode ceiling, the CPU ceiling."""
    out = []
    if results.encode_rates:
        rates = "; ".join(
            f"{threads} torch thread{'s' if threads != '1' else ''}: "
            + ", ".join(f"{rate:,.0f}" for rate in values)
            for threads, values in sorted(results.encode_rates.items())
        )
        out.append(f"Bare batched `model.encode` (batch 32, 300 of the distinct templates, "
                   f"in the runner, between server runs), lines/s — {rates}. The goal uses "
                   "the best.")  # fmt: skip
    warm = results.find("logclass", "loghub", "warm", results.plan["batch"])
    if warm and warm.cpu_s_per_1k:
        ceiling = 1000 / warm.cpu_s_per_1k
        busy = warm.lines_per_s * warm.cpu_s_per_1k / 1000
        out.append(f"Warm Loghub, {warm.batch}-line batches: the server spent "
                   f"{warm.cpu_s_per_1k * 1000:.1f} ms of CPU per 1,000 lines, a ceiling of "
                   f"{ceiling:,.0f} lines/s for its one Python process on a free core; during "
                   f"the run it got {busy:.0%} of a core (the load generator used "
                   f"{warm.client_cpu_s_per_1k or 0:.3f} CPU s per 1,000 lines; the machine "
                   "is shared).")
    return ["", *("- " + line for line in out)] if out else []


def _profiles(results: Results) -> list[str]:
    out: list[str] = []
    for title, summary in results.profiles.items():
        own, inclusive = summary.get("self", []), summary.get("project", [])
        out += ["", f"Profile of logclass, {title} (py-spy, an extra unmeasured run; share of "
                    "busy samples):", "",
                "| self time (any code) | share | inclusive time (logclass code) | share |",
                "|---|---:|---|---:|"]
        for i in range(max(len(own), len(inclusive))):
            a = own[i] if i < len(own) else ("", None)
            b = inclusive[i] if i < len(inclusive) else ("", None)
            out.append(f"| `{a[0]}` | {_share(a[1])} | `{b[0]}` | {_share(b[1])} |")
    if out:
        out.insert(0, "\n### Where the server's time goes")
    return out


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def replace_section(document: str, section: str) -> str:
    """``document`` with its end-to-end section replaced by ``section`` (appended if absent)."""
    start = document.find(HEADING + "\n")
    if start < 0:
        return document.rstrip("\n") + ("\n\n" if document.strip() else "") + section
    end = document.find("\n## ", start + len(HEADING))
    tail = document[end + 1 :] if end >= 0 else ""
    return document[:start] + section + ("\n" + tail if tail else "")


def write(path: Path, section: str) -> None:
    document = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    path.write_text(replace_section(document, section), encoding="utf-8")
