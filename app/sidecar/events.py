"""Shipper events: where the message and the source are read, and how the verdict is added.

``framing`` turns a body into events; this module reads each event by the configured keys
(dotted paths into nested objects) and writes the verdict back into it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from processors.records import LogRecord, Verdict

__all__ = [
    "EventFields",
    "MALFORMED_EVENT",
    "NO_MESSAGE",
    "enrich",
    "lookup",
    "records_of",
    "verdict_fields",
]

NO_MESSAGE = "no_message"
MALFORMED_EVENT = "malformed_event"


@dataclass(frozen=True, slots=True)
class EventFields:
    """Where the message and the source are read from, and where the verdict goes."""

    message_keys: tuple[str, ...] = ("message", "log", "MESSAGE", "msg")
    source_keys: tuple[str, ...] = ("program", "service", "kubernetes.container_name", "source")
    default_source: str = "default"
    enrich_key: str = "log_class"

    @classmethod
    def from_settings(cls, settings: Any) -> EventFields:
        return cls(
            message_keys=_split(settings.ingest_message_keys),
            source_keys=_split(settings.ingest_source_keys),
            default_source=settings.ingest_default_source,
            enrich_key=settings.ingest_enrich_key,
        )

    def message_field(self, event: dict[str, Any]) -> tuple[str, str] | None:
        """The first message key that holds text (or a number), and that text."""
        return _first_text(event, self.message_keys)

    def message_of(self, event: dict[str, Any]) -> str | None:
        found = _first_text(event, self.message_keys)
        return found[1] if found else None

    def source_of(self, event: dict[str, Any]) -> str:
        found = _first_text(event, self.source_keys)
        return found[1] if found else self.default_source


def enrich(
    events: list[dict[str, Any]],
    fields: EventFields,
    positions: Iterable[int],
    verdicts: Sequence[Verdict],
    malformed: Iterable[int] = (),
) -> None:
    """Adds ``fields.enrich_key`` to every event (replacing an older one): the verdict of
    the event at each of ``positions``, ``no_message`` for the others. The events at
    ``malformed`` keep their label but carry reason ``malformed_event``, which says more
    than any reason of the classifier: the shipper sent a line that was not an event."""
    decided = dict(zip(positions, verdicts, strict=True))
    for i, event in enumerate(events):
        verdict = decided.get(i)
        event[fields.enrich_key] = (
            verdict_fields(verdict)
            if verdict
            else {
                "label": "Unclassified",
                "confidence": None,
                "tier": "none",
                "template": None,
                "reason": NO_MESSAGE,
            }
        )
    for i in malformed:
        events[i][fields.enrich_key]["reason"] = MALFORMED_EVENT


def records_of(
    events: Sequence[dict[str, Any]], fields: EventFields
) -> tuple[list[int], list[LogRecord]]:
    """The events that carry a message (their positions) and their records, in order."""
    positions: list[int] = []
    records: list[LogRecord] = []
    for i, event in enumerate(events):
        message = fields.message_of(event)
        if message is not None:
            positions.append(i)
            records.append(LogRecord(fields.source_of(event), message))
    return positions, records


def verdict_fields(verdict: Verdict) -> dict[str, Any]:
    return {
        "label": verdict.label,
        "confidence": verdict.confidence,
        "tier": verdict.tier,
        "template": verdict.template,
        "reason": verdict.reason,
    }


def lookup(event: dict[str, Any], key: str) -> Any:
    """``event[key]``, else the dotted path (``kubernetes.container_name``); None if absent."""
    if key in event:
        return event[key]
    node: Any = event
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _first_text(event: dict[str, Any], keys: Sequence[str]) -> tuple[str, str] | None:
    for key in keys:
        value = lookup(event, key)
        if isinstance(value, str) and value:
            return key, value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return key, str(value)
    return None


def _split(keys: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in keys.split(",") if k.strip())
