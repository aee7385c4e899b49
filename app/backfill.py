"""``logclass backfill``: label archives once, on Ray Data, with the service's pipeline.

One Ray Data dataset over every input, in order:

1. **read** — a task per shard (:func:`app.inputs.plan_shards`: byte ranges of a big plain
   file, a whole gzip or CSV file) yields blocks of records, about ``block_bytes`` of text;
2. **match** — parallel tasks run the line rules and the masker on each block
   (:meth:`Classifier.match_rules` without model tiers): the work that grows with lines;
3. **label** — a pool of actors, each one :meth:`Classifier.from_settings` (the model
   loaded once per actor; the deployment's template cache, so with ``LOGCLASS_REDIS_URL``
   the live service and the backfill warm each other), decides the distinct templates of
   each block — a template seen before is a cache hit — and joins the verdicts back onto
   the lines, rendering each distinct verdict once;
4. **write** — this process takes the blocks in input order and appends each to its
   input's output file, which is written under a temporary name and renamed when the
   input's last line is in.

Guarantees: one output row per input record, in the input's order (text and NDJSON: one
per line, blank lines included; CSV: one per row), with ``label, confidence, tier,
template, reason`` as the service gives them; an output file exists only once complete, so
a re-run after a crash skips the inputs whose output exists and redoes the others.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from app.backfill_output import BackfillReport, Job, Outputs, Progress
from app.backfill_stages import TemplateLabeler, match_block, read_blocks
from app.inputs import Format, InputError, LogReader, detect_format, open_binary, plan_shards
from app.settings import Settings
from app.sidecar.events import EventFields

if TYPE_CHECKING:
    pass

__all__ = ["BackfillError", "BackfillOptions", "BackfillReport", "backfill", "output_name"]

OUTPUT_FORMATS = ("jsonl", "parquet")
CPUS_PER_ACTOR = 16  # default pool: one classifier actor per this many CPUs of the cluster
READS_PER_CPU = 8  # files read at once: one per this many CPUs (reading is ~1/10 of matching)


class BackfillError(RuntimeError):
    """The backfill cannot start or stopped; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class BackfillOptions:
    output_format: str = "jsonl"
    input_format: str = "auto"
    ray_address: str | None = None  # None: a local Ray; "auto": the running cluster
    cpus: int | None = None  # local Ray only; None: the machine's cores
    actors: int | None = None  # None: one per CPUS_PER_ACTOR CPUs, at least one
    shard_bytes: int = 64 << 20  # a plain file is read in ranges of this many bytes
    block_bytes: int = 2 << 20  # text per block (Ray's unit of parallel work)
    block_lines: int = 50_000  # and at most this many lines
    progress: IO[str] | None = field(default=None)  # None: stderr
    progress_seconds: float = 2.0
    stats: bool = False  # report Ray Data's time per stage in BackfillReport.stats


# -- the driver ----------------------------------------------------------------------------


def backfill(inputs: Sequence[str], out_dir: str | Path, settings: Settings,
             options: BackfillOptions | None = None) -> BackfillReport:
    """Classify every input into ``out_dir`` (one file each); see the module docstring.

    Raises InputError for inputs that cannot be read as asked (before any work starts, when
    it can tell), BackfillError when Ray is missing or the run stopped."""
    options = options or BackfillOptions()
    if options.output_format not in OUTPUT_FORMATS:
        raise InputError(f"unknown output format {options.output_format!r}; use one of "
                         f"{OUTPUT_FORMATS}")
    progress = options.progress or sys.stderr
    started = time.perf_counter()
    out = Path(out_dir)
    fields = EventFields.from_settings(settings)
    report = BackfillReport()
    jobs = []
    for source, output in _plan_outputs(_expand(inputs), out, options.output_format):
        if output.exists():
            report.skipped.append(source)
            continue
        jobs.append(Job(len(jobs), source, output, _format_of(source, options, fields)))
    if report.skipped:
        print(f"backfill: skipping {len(report.skipped)} input(s) whose output is complete "
              f"in {out}", file=progress)
    if not jobs:
        return report
    out.mkdir(parents=True, exist_ok=True)
    ray, started_here = _start_ray(options)
    try:
        _run(ray, jobs, settings, fields, options, report, progress, started)
    finally:
        report.seconds = time.perf_counter() - started
        if started_here:
            ray.shutdown()
    return report


def output_name(source: str, output_format: str) -> str:
    """``app-2024-01-01.log.gz`` → ``app-2024-01-01.log.jsonl``."""
    name = Path(source).name
    return name.removesuffix(".gz") + "." + output_format


def _expand(inputs: Sequence[str]) -> list[str]:
    """Files as given; a folder stands for the files under it (sorted, hidden ones left out)."""
    files: list[str] = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            files += sorted(str(p) for p in path.rglob("*")
                            if p.is_file() and not any(part.startswith(".")
                                                       for part in p.relative_to(path).parts))
        elif path.is_file():
            files.append(given)
        else:
            raise InputError(f"{given}: no such file or folder")
    return files


def _plan_outputs(sources: list[str], out: Path, output_format: str) -> list[tuple[str, Path]]:
    planned: dict[Path, str] = {}
    for source in sources:
        output = out / output_name(source, output_format)
        if output in planned:
            raise InputError(f"{planned[output]} and {source} would both be written to "
                             f"{output}; rename one, or backfill them into different folders")
        planned[output] = source
    return [(source, output) for output, source in planned.items()]


def _format_of(source: str, options: BackfillOptions, fields: EventFields) -> Format:
    with open_binary(source) as stream:
        fmt = detect_format(source, stream, options.input_format)
        if fmt == "csv":
            LogReader(stream, fmt, source, fields)  # a CSV without log_message stops here
    return fmt


def _start_ray(options: BackfillOptions) -> tuple[Any, bool]:
    """The ``ray`` module, initialised (a running session is used as it is), and whether
    it was started here (and is to be shut down here)."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise BackfillError("backfill runs on Ray Data, which is not installed: "
                            "pip install -e '.[backfill]' (or 'logclass[backfill]')") from exc
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    if ray.is_initialized():
        return ray, False
    quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False,
                             "include_dashboard": False}
    if options.ray_address:
        ray.init(address=options.ray_address, **quiet)
    else:
        ray.init(num_cpus=options.cpus or os.cpu_count() or 1, **quiet)
    return ray, True


def _run(ray: Any, jobs: list[Job], settings: Settings, fields: EventFields,
         options: BackfillOptions, report: BackfillReport, progress: IO[str],
         started: float) -> None:
    from ray.data import ActorPoolStrategy, DataContext, TaskPoolStrategy

    context = DataContext.get_current()
    context.execution_options.preserve_order = True  # blocks come out in input order
    context.target_max_block_size = options.block_bytes
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    shards = [
        {"file": job.index, "path": shard.path, "format": shard.format, "start": shard.start,
         "end": -1 if shard.end is None else shard.end}
        for job in jobs for shard in plan_shards(job.source, job.format, options.shard_bytes)
    ]
    cpus = int(ray.cluster_resources().get("CPU", 1))
    actors = options.actors or max(1, cpus // CPUS_PER_ACTOR)
    dataset = (
        ray.data.from_items(shards, override_num_blocks=len(shards))
        # Readers reserve no CPU (a reader holds its reservation for its whole file, which
        # would keep a core from matching) and are few (one feeds several matchers). Their
        # CPU share differs from the matchers', so Ray keeps the two stages apart: the
        # blocks of one big gzip file are matched by many tasks, not by its reader alone.
        .map_batches(read_blocks, batch_size=1, batch_format="pyarrow", num_cpus=0,
                     compute=TaskPoolStrategy(size=max(1, cpus // READS_PER_CPU)),
                     fn_kwargs={"fields": fields, "block_lines": options.block_lines,
                                "block_bytes": options.block_bytes})
        .map_batches(match_block, batch_size=None, batch_format="pyarrow", num_cpus=1,
                     fn_kwargs={"taxonomy_path": str(settings.taxonomy),
                                "max_line_chars": settings.max_line_chars})
        # Actors reserve no CPU: after the first blocks nearly every template is a cache
        # hit and the matching tasks need the cores; while the model works the OS shares.
        .map_batches(TemplateLabeler, batch_size=None, batch_format="pyarrow", num_cpus=0,
                     compute=ActorPoolStrategy(size=actors),
                     fn_constructor_kwargs={"settings": settings,
                                            "output_format": options.output_format})
    )
    outputs = Outputs(jobs, options.output_format, report)
    meter = Progress(progress, options.progress_seconds, report, started)
    try:
        for block in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
            outputs.add(block)
            meter.update(block)
        outputs.finish()
        if options.stats:
            report.stats = dataset.stats()
    except Exception as exc:
        report.complete = False
        outputs.abandon()
        cause, message = _root_cause(exc)
        if isinstance(cause, InputError):
            raise InputError(f"backfill stopped: {message}") from exc
        raise BackfillError(f"backfill stopped: {type(cause).__name__}: {message}; outputs "
                            "already complete are kept, run again to do the rest") from exc
    finally:
        meter.done()




def _root_cause(exc: BaseException) -> tuple[BaseException, str]:
    """The error under Ray's wrappers (a task's, an actor's…) and its message in one line.

    The innermost exception of ours says it on its first line (Ray appends notes to it);
    where only Ray's wrappers are left, the ``SomeError: message`` line of the traceback
    they carry in their text does."""
    chain: list[BaseException] = []
    while exc is not None and all(exc is not seen for seen in chain):
        chain.append(exc)
        inner = getattr(exc, "cause", None) or exc.__cause__
        exc = inner if isinstance(inner, BaseException) else None  # type: ignore[assignment]
    ours = [e for e in chain if not type(e).__module__.startswith("ray") and str(e).strip()]
    if ours:
        return ours[-1], str(ours[-1]).strip().splitlines()[0]
    for wrapper in reversed(chain):
        said = [line.strip() for line in str(wrapper).splitlines()
                if re.match(r"\s*[\w.]+(Error|Exception): ", line)]
        if said:
            return wrapper, said[-1]
    return chain[0], type(chain[0]).__name__
