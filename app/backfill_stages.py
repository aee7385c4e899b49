"""The three stages of ``logclass backfill`` that run in Ray workers, block by block.

A block is a ``pyarrow.Table`` of consecutive records of one input (its ``file`` index on
every row). Each stage keeps rows and their order; only the columns change:

- :func:`read_blocks`: shards → ``file, source, message, note``;
- :func:`match_block`: → ``file, route, template, truncated, note`` plus the verdict
  columns of the lines the rules decided; ``route`` is set only on the lines left to the
  model tiers;
- :class:`TemplateLabeler` (an actor): → the verdict columns ``label, confidence, tier,
  template, reason`` (Parquet) or ``template, line`` (a JSON line per row), and ``file``.

Ray may cut a block between stages, so each stage reads only its own rows. The per-line
work of the label stage is columnar (Arrow kernels); its Python runs once per distinct
template of a block, so one actor keeps up with many matching cores.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from app.inputs import Shard, read_shard
from app.settings import Settings
from app.sidecar.events import EventFields
from processors.pipeline import Classifier, to_verdict
from processors.records import LogRecord
from processors.taxonomy import Taxonomy

if TYPE_CHECKING:
    import pyarrow as pa

VERDICT_COLUMNS = ("label", "confidence", "tier", "template", "reason")
_SEPARATOR = "\x1f"  # between route and template, as in the pipeline's cache keys


def verdict_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([("label", pa.string()), ("confidence", pa.float64()),
                      ("tier", pa.string()), ("template", pa.string()),
                      ("reason", pa.string())])


def read_blocks(shards: pa.Table, fields: EventFields, block_lines: int, block_bytes: int
                ) -> Iterator[pa.Table]:
    """Read stage: the records of each shard, a block at a time."""
    import pyarrow as pa

    for row in shards.to_pylist():
        end = None if row["end"] < 0 else row["end"]
        shard = Shard(row["path"], row["format"], row["start"], end)
        for chunk in read_shard(shard, fields, block_lines, block_bytes):
            yield pa.table({
                "file": pa.array([row["file"]] * len(chunk), pa.int32()),
                "source": pa.array(chunk.sources, pa.string()),
                "message": pa.array(chunk.messages, pa.string()),
                "note": pa.array(chunk.notes, pa.string()),
            })


_rules: dict[tuple[str, int], Classifier] = {}  # per worker process: rules, no model tier


def match_block(block: pa.Table, taxonomy_path: str, max_line_chars: int) -> pa.Table:
    """Match stage: :meth:`Classifier.match_rules` (line rules, masker) on one block."""
    import pyarrow as pa

    rules = _rules.get((taxonomy_path, max_line_chars))
    if rules is None:
        rules = Classifier(Taxonomy.load(taxonomy_path), max_line_chars=max_line_chars)
        _rules[(taxonomy_path, max_line_chars)] = rules
    sources, messages = block["source"].to_pylist(), block["message"].to_pylist()
    prepared = rules.match_rules([LogRecord(s, m) for s, m in zip(sources, messages,
                                                                  strict=True)])
    n = len(messages)
    route: list[str | None] = [None] * n
    template: list[str | None] = [None] * n
    decided: dict[str, list[Any]] = {name: [None] * n for name in
                                     ("label", "confidence", "tier", "reason")}
    for i, verdict in enumerate(prepared.verdicts):
        if verdict is not None:
            template[i] = verdict.template
            decided["label"][i], decided["confidence"][i] = verdict.label, verdict.confidence
            decided["tier"][i], decided["reason"][i] = verdict.tier, verdict.reason
    for (key_route, key_template), indexes in prepared.pending.items():
        for i in indexes:
            route[i], template[i] = key_route, key_template
    truncated = [False] * n
    for i in prepared.truncated:
        truncated[i] = True
    return pa.table({
        "file": block["file"], "route": pa.array(route, pa.string()),
        "template": pa.array(template, pa.string()),
        "truncated": pa.array(truncated, pa.bool_()), "note": block["note"],
        "label": pa.array(decided["label"], pa.string()),
        "confidence": pa.array(decided["confidence"], pa.float64()),
        "tier": pa.array(decided["tier"], pa.string()),
        "reason": pa.array(decided["reason"], pa.string()),
    })


class TemplateLabeler:
    """Label stage: one Classifier (one model, the deployment's cache) per actor. Decides a
    block's distinct templates and joins the verdicts back onto its lines."""

    def __init__(self, settings: Settings, output_format: str) -> None:
        self.classifier = Classifier.from_settings(settings)
        self.output_format = output_format
        self.loop = asyncio.new_event_loop()
        # with LOGCLASS_BERT_PRELOAD (the default) the model starts loading now, in its
        # thread, while the first blocks are read and matched
        self.loop.run_until_complete(self._start())

    async def _start(self) -> None:
        await self.classifier.start()
        await asyncio.sleep(0)  # one step for the load it may have begun

    def __call__(self, block: pa.Table) -> pa.Table:
        import pyarrow as pa
        import pyarrow.compute as pc

        block = block.combine_chunks()
        columns = {name: block[name].chunk(0) if block[name].num_chunks else
                   pa.array([], block.schema.field(name).type)
                   for name in block.column_names}
        verdicts = {name: columns[name] for name in VERDICT_COLUMNS}
        pending = pc.is_valid(columns["route"])
        if pc.any(pending).as_py():
            # the distinct (route, template) pairs of the block, and each line's pair
            pairs = pc.dictionary_encode(pc.binary_join_element_wise(
                columns["route"], columns["template"], _SEPARATOR))
            keys = [tuple(pair.split(_SEPARATOR, 1)) for pair in pairs.dictionary.to_pylist()]
            by_key = self._decide(keys)  # type: ignore[arg-type]  # pairs of two
            at = pc.fill_null(pairs.indices, 0)  # any valid index where not pending
            reason = pc.if_else(columns["truncated"], by_key["reason_truncated"].take(at),
                                by_key["reason"].take(at))
            for name in ("label", "confidence", "tier"):
                verdicts[name] = pc.if_else(pending, by_key[name].take(at), columns[name])
            verdicts["reason"] = pc.if_else(pending, reason, columns["reason"])
        # a record's note (malformed_event, no_message) says more than the classifier's reason
        verdicts["reason"] = pc.coalesce(columns["note"], verdicts["reason"])
        if self.output_format == "parquet":
            return pa.Table.from_arrays([verdicts[name] for name in VERDICT_COLUMNS]
                                        + [columns["file"]], names=[*VERDICT_COLUMNS, "file"])
        return pa.table({"file": columns["file"], "template": columns["template"],
                         "line": json_lines(verdicts)})

    def _decide(self, keys: list[tuple[str, str]]) -> dict[str, pa.Array]:
        """Verdict columns per key, as :func:`to_verdict` makes them (with both values of
        ``truncated`` for the reason)."""
        import pyarrow as pa

        outcomes = self.loop.run_until_complete(self.classifier.decide_templates(keys))
        plain, cut = [], []
        for key in keys:
            outcome, cached = outcomes[key]
            plain.append(to_verdict(outcome, cached, key[1], False))
            cut.append(to_verdict(outcome, cached, key[1], True))
        return {
            "label": pa.array([v.label for v in plain], pa.string()),
            "confidence": pa.array([v.confidence for v in plain], pa.float64()),
            "tier": pa.array([v.tier for v in plain], pa.string()),
            "reason": pa.array([v.reason for v in plain], pa.string()),
            "reason_truncated": pa.array([v.reason for v in cut], pa.string()),
        }

    def __del__(self) -> None:
        try:
            self.loop.run_until_complete(self.classifier.aclose())
            self.loop.close()
        except Exception:  # interpreter shutdown: nothing is left to release
            pass


def json_lines(verdicts: dict[str, Any]) -> pa.Array:
    """A JSON object and a newline per row, from the verdict columns; each distinct value of
    a column is rendered by ``json.dumps`` once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts: list[Any] = []
    for i, name in enumerate(VERDICT_COLUMNS):
        parts.append(pa.scalar(("{" if i == 0 else ", ") + json.dumps(name) + ": "))
        column = verdicts[name]
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        encoded = pc.dictionary_encode(column, null_encoding="encode")
        rendered = [json.dumps(value, ensure_ascii=False)
                    for value in encoded.dictionary.to_pylist()]
        parts.append(pa.array(rendered, pa.string()).take(encoded.indices))
    parts.append(pa.scalar("}\n"))
    return pc.binary_join_element_wise(*parts, "")
