"""The benchmark's chart: throughput, CPU cost and tail latency per configuration, one PNG.

Log scales, since the configurations differ by orders of magnitude; each bar is labelled
with its value so the picture can be read without the table.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.e2e.results import Results, Row

COLORS = {
    "logclass": "#1f77b4",
    "logclass, cache off": "#ff7f0e",
    "logclass, 1 torch thread": "#2ca02c",
    "logclass, 2048-token batches": "#9467bd",
    "reference": "#7f7f7f",
}


def _series(results: Results) -> list[tuple[str, list[Row]]]:
    """Groups on the x axis, one per (workload, batch, first pass or repeat), in run order.

    logclass's cold pass and the cache-off pass stand together (both first passes); the
    cache-off repeat of small batches stands beside the warm one. The reference's per-line
    rate does not depend on caching, so its one pass over a workload stands beside each of
    that workload's groups (its 1-in-flight run beside the small-batch group).
    """
    small = results.plan["small_batch"]
    reference = {(r.workload, r.phase): r for r in results.rows if r.config == "reference"}
    groups: dict[str, list[Row]] = {}
    for row in results.rows:
        if row.config == "reference":
            continue
        repeat = row.phase == "warm" or (row.phase == "pass" and row.batch == small)
        kind = "repeat (warm)" if repeat else "first pass (cold)"
        groups.setdefault(f"{row.workload}, {row.batch}/batch\n{kind}", []).append(row)
    for rows in groups.values():
        workload, batch = rows[0].workload, rows[0].batch
        ref = reference.get((workload, "latency" if batch == small else "pass"))
        ref = ref or reference.get((workload, "pass"))
        if ref is not None:
            rows.append(ref)
    return list(groups.items())


def draw(results: Results, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    groups = _series(results)
    configs = [c for c in COLORS if any(r.config == c for _, rows in groups for r in rows)]
    fig, axes = plt.subplots(3, 1, figsize=(12, 11), constrained_layout=True)
    panels = (
        ("lines_per_s", "lines / s (log)", "{:,.0f}"),
        ("cpu_s_per_1k", "server CPU s per 1,000 lines (log)", "{:.3g}"),
        ("p99_ms", "p99 request latency, ms (log; the reference's batches are "
                   f"{results.plan['small_batch']} lines)", "{:,.0f}"),
    )
    width = 0.8 / max(1, len(configs))
    for ax, (attr, title, fmt) in zip(axes, panels, strict=True):
        for j, config in enumerate(configs):
            xs, ys = [], []
            for i, (_, rows) in enumerate(groups):
                row = next((r for r in rows if r.config == config), None)
                value = getattr(row, attr) if row else None
                if value:
                    xs.append(i + (j - (len(configs) - 1) / 2) * width)
                    ys.append(value)
            bars = ax.bar(xs, ys, width, label=config, color=COLORS[config])
            ax.bar_label(bars, [fmt.format(y) for y in ys], fontsize=6, padding=1)
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_xticks(range(len(groups)), [key for key, _ in groups], fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(configs),
                   frameon=False)
    fig.suptitle("logclass end-to-end over HTTP vs the reference design "
                 f"(reference on a {results.plan['reference_lines']}-line subset)", fontsize=11)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
