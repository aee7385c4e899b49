"""Which templates flow, how often, and how they were labelled: a bounded top-k.

Space-saving counting (Metwally et al., 2005): at most ``capacity`` templates are tracked;
a new template arriving when the table is full takes the place of the least-seen ones and
inherits their count as its possible over-count (``error``), so the heavy hitters are kept
whatever the traffic and memory stays bounded. Evictions are done in bulk (the least-seen
tenth at once) so a stream of one-off templates costs O(log k) per template, not O(k).
Thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from processors.records import Outcome

__all__ = ["TemplateStats"]


@dataclass(slots=True)
class _Entry:
    count: int
    error: int
    first_seen: float
    last_seen: float
    label: str
    confidence: float | None
    tier: str


class TemplateStats:
    """Counts of ``(route, template)`` with their latest verdict; bounded by ``capacity``."""

    def __init__(self, capacity: int = 1_000, clock: Callable[[], float] = time.time) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], _Entry] = {}

    def record(self, counts: Iterable[tuple[tuple[str, str], int, Outcome]]) -> None:
        """Add one batch: ``((route, template), lines, outcome)`` per distinct template."""
        now = self._clock()
        with self._lock:
            entries = self._entries
            for key, lines, outcome in counts:
                entry = entries.get(key)
                if entry is None:
                    floor = self._make_room() if len(entries) >= self.capacity else 0
                    entry = entries[key] = _Entry(
                        floor, floor, now, now, outcome.label, outcome.confidence, outcome.tier
                    )
                else:
                    entry.label, entry.confidence, entry.tier = (
                        outcome.label, outcome.confidence, outcome.tier
                    )
                entry.count += lines
                entry.last_seen = now

    def relabel(self, key: tuple[str, str], outcome: Outcome) -> None:
        """Show a new verdict for a tracked template at once (an operator corrected it)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.label, entry.confidence, entry.tier = (
                    outcome.label, outcome.confidence, outcome.tier
                )

    def _make_room(self) -> int:
        """Drop the least-seen tenth; the count a newcomer may have had unseen."""
        drop = max(1, self.capacity // 10)
        ranked = sorted(self._entries.items(), key=lambda item: item[1].count)
        for key, _ in ranked[:drop]:
            del self._entries[key]
        return ranked[drop - 1][1].count

    def top(
        self,
        limit: int = 50,
        *,
        route: str | None = None,
        label: str | None = None,
        tier: str | None = None,
        max_confidence: float | None = None,
    ) -> list[dict[str, Any]]:
        """The most-seen templates matching every filter given, most seen first.

        ``max_confidence`` keeps templates at or below it and those with no confidence
        (``Unclassified``): what an operator looking for doubtful labels wants to see.
        """
        with self._lock:
            items = list(self._entries.items())
        rows = [
            (key, entry)
            for key, entry in items
            if (route is None or key[0] == route)
            and (label is None or entry.label == label)
            and (tier is None or entry.tier == tier)
            and (
                max_confidence is None
                or entry.confidence is None
                or entry.confidence <= max_confidence
            )
        ]
        rows.sort(key=lambda item: (-item[1].count, item[0]))
        return [_as_dict(key, entry) for key, entry in rows[:limit]]

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _as_dict(key: tuple[str, str], entry: _Entry) -> dict[str, Any]:
    return {
        "route": key[0],
        "template": key[1],
        "label": entry.label,
        "confidence": entry.confidence,
        "tier": entry.tier,
        "count": entry.count,
        "first_seen": _iso(entry.first_seen),
        "last_seen": _iso(entry.last_seen),
    }


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
