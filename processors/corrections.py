"""Operators' corrections: "this template, on this route, is that label", kept in a file.

The file is YAML a person can review and version (a list of ``{route, template, label,
created_at}``), written atomically (temporary file, then rename) so a crash never leaves
half a file. Changes made by hand, or by another replica sharing the file, are picked up
within ``reload_seconds``. Guarantees: thread-safe; a missing file is an empty store; a
broken file is refused at start-up with a message naming it, and later (a bad hand edit)
keeps the last good corrections and shows the error in ``health()``.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Correction", "CorrectionError", "CorrectionStore"]

_HEADER = (
    "# logclass corrections: the label an operator gave to a template on a route.\n"
    "# Managed by POST/DELETE /api/v1/corrections; safe to review, edit and version.\n"
)


class CorrectionError(ValueError):
    """The corrections file cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Correction:
    route: str
    template: str
    label: str
    created_at: str  # ISO 8601, UTC


class CorrectionStore:
    """``(route, template) → label``; ``path=None`` keeps corrections in memory only.

    ``labels`` (the taxonomy's) is checked when the file is read: a correction naming a
    label the taxonomy no longer has is refused, not served.
    """

    def __init__(
        self,
        path: str | Path | None,
        labels: Iterable[str],
        *,
        reload_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.labels = frozenset(labels)
        self.reload_seconds = reload_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._by_key: dict[tuple[str, str], Correction] = {}
        self._stamp: tuple[int, int] | None = None  # (mtime_ns, size) of what we read
        self._checked = clock()
        self.last_error: str | None = None
        # Set by a shared backend (``corrections_redis``): called with each change before it
        # is kept here (raising refuses the change), and where health says it is shared.
        self.publish: Callable[[tuple[str, str], Correction | None], None] | None = None
        self.shared_via: str | None = None
        self.on_close: list[Callable[[], None]] = []
        if self.path is not None:
            self._by_key = self._read()

    def __len__(self) -> int:
        return len(self._by_key)

    def active(self) -> bool:
        """Whether any correction exists (re-reading a changed file first); the pipeline
        asks once per batch, so a service with none pays nothing per line."""
        self.refresh()
        return bool(self._by_key)

    def label_for(self, route: str, template: str) -> str | None:
        """The operator's label for this template, if any (cheap; called per template)."""
        self.refresh()
        found = self._by_key.get((route, template))
        return found.label if found is not None else None

    def all(self) -> list[Correction]:
        self.refresh()
        with self._lock:
            return sorted(self._by_key.values(), key=lambda c: (c.route, c.template))

    def add(self, route: str, template: str, label: str) -> Correction:
        if label not in self.labels:
            raise CorrectionError(f"label {label!r} is not in the taxonomy {sorted(self.labels)}")
        correction = Correction(route, template, label, _now())
        with self._lock:
            self._reread_locked()
            if self.publish is not None:
                self.publish((route, template), correction)
            self._commit_locked({**self._by_key, (route, template): correction})
        return correction

    def remove(self, route: str, template: str) -> Correction | None:
        with self._lock:
            self._reread_locked()
            kept = dict(self._by_key)
            removed = kept.pop((route, template), None)
            if removed is not None:
                if self.publish is not None:
                    self.publish((route, template), None)
                self._commit_locked(kept)
        return removed

    def adopt(self, corrections: Iterable[Correction]) -> None:
        """Replace every correction with the shared set; the file keeps a snapshot of it (a
        file that cannot be written is reported in health, the set is served anyway)."""
        fresh = {(c.route, c.template): c for c in corrections if c.label in self.labels}
        with self._lock:
            try:
                self._commit_locked(fresh)
            except OSError as exc:
                self._by_key = fresh
                self.last_error = f"{self.path}: snapshot not written ({exc})"

    def close(self) -> None:
        for close in self.on_close:
            close()

    def refresh(self) -> None:
        """Re-read the file if it changed since last read (at most every reload_seconds)."""
        if self.path is None or self._clock() - self._checked < self.reload_seconds:
            return
        with self._lock:
            self._checked = self._clock()
            try:
                self._reread_locked()
            except CorrectionError as exc:  # a bad hand edit: keep serving the last good set
                self.last_error = str(exc)

    def health(self) -> dict[str, Any]:
        return {
            "status": "degraded" if self.last_error else "ok",
            "corrections": len(self._by_key),
            "path": str(self.path) if self.path else None,
            "shared": self.shared_via,
            "last_error": self.last_error,
        }

    # -- the file ---------------------------------------------------------------------

    def _reread_locked(self) -> None:
        if self.path is not None and self._file_stamp() != self._stamp:
            self._by_key = self._read()
            self.last_error = None

    def _file_stamp(self) -> tuple[int, int] | None:
        assert self.path is not None
        try:
            stat = self.path.stat()
        except OSError:  # missing (or unreachable: the first write will say why)
            return None
        return stat.st_mtime_ns, stat.st_size

    def _read(self) -> dict[tuple[str, str], Correction]:
        assert self.path is not None
        stamp = self._file_stamp()
        if stamp is None:
            self._stamp = None
            return {}
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or []
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise CorrectionError(f"{self.path}: cannot read corrections ({exc})") from exc
        if not isinstance(data, list):
            raise CorrectionError(f"{self.path}: expected a list of {{route, template, label}}")
        found: dict[tuple[str, str], Correction] = {}
        for i, entry in enumerate(data):
            at = f"{self.path}: entry {i}"
            if not isinstance(entry, dict) or not all(
                isinstance(entry.get(k), str) for k in ("route", "template", "label")
            ):
                raise CorrectionError(f"{at}: needs 'route', 'template' and 'label' strings")
            if entry["label"] not in self.labels:
                raise CorrectionError(
                    f"{at}: label {entry['label']!r} is not in the taxonomy {sorted(self.labels)}"
                )
            found[(entry["route"], entry["template"])] = Correction(
                entry["route"], entry["template"], entry["label"], str(entry.get("created_at", ""))
            )
        self._stamp = stamp
        return found

    def _commit_locked(self, corrections: dict[tuple[str, str], Correction]) -> None:
        """Write the file first; memory changes only once the file holds the change."""
        if self.path is not None:
            self._write(corrections)
        self._by_key = corrections

    def _write(self, corrections: dict[tuple[str, str], Correction]) -> None:
        assert self.path is not None
        entries = [asdict(c) for c in sorted(corrections.values(), key=lambda c: c.created_at)]
        text = _HEADER + yaml.safe_dump(entries, sort_keys=False, allow_unicode=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".corrections-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._stamp = self._file_stamp()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
