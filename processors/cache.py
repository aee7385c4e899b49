"""The template cache: L1 in memory (cachetools), L2 on disk (diskcache), JSON, never pickle.

A lookup goes L1 → L2 and promotes L2 hits to L1; a new outcome is written to both. Keys are
the pipeline's versioned strings (taxonomy and model fingerprints are inside them); L2 adds
its own value-format version, so a format change can never misread old entries.

Guarantees: thread-safe (the event loop and worker threads share one instance); no call
raises because of the disk — an L2 that cannot be opened, is corrupt, read-only or full is
logged once, counted, and skipped (L1 carries on, ``health()`` says ``degraded``) and tried
again after ``retry_after_seconds``. L2 holds JSON text only and refuses pickled entries,
so a planted cache file cannot run code.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import diskcache
from cachetools import TTLCache
from diskcache.core import MODE_PICKLE

from monitoring import MetricsRegistry
from processors.pipeline import Outcome

log = logging.getLogger(__name__)

L2_FORMAT = "v1"  # bump when the stored JSON changes shape; old entries then simply miss
_T = TypeVar("_T")


class JsonTextDisk(diskcache.Disk):
    """A diskcache serializer that stores str only and refuses to unpickle anything."""

    def store(self, value: Any, read: bool, key: Any = diskcache.UNKNOWN) -> Any:
        if read or type(value) is not str:
            raise TypeError("the template cache stores JSON text only")
        return super().store(value, read, key=key)

    def fetch(self, mode: int, filename: Any, value: Any, read: bool) -> Any:
        if mode == MODE_PICKLE:
            raise ValueError("refusing a pickled value in the template cache")
        return super().fetch(mode, filename, value, read)

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise ValueError("refusing a pickled key in the template cache")
        return super().get(key, raw)


def encode(outcome: Outcome) -> str:
    return json.dumps(
        [outcome.label, outcome.confidence, outcome.tier, outcome.reason], separators=(",", ":")
    )


def decode(text: Any) -> Outcome:
    """The outcome stored as ``text``; ``ValueError`` for anything not written by ``encode``."""
    data = json.loads(text) if isinstance(text, str) else None
    if not isinstance(data, list) or len(data) != 4:
        raise ValueError("not a template cache entry")
    label, confidence, tier, reason = data
    if (
        not isinstance(label, str)
        or not isinstance(tier, str)
        or not (reason is None or isinstance(reason, str))
        or not (confidence is None or type(confidence) in (int, float))
    ):
        raise ValueError("not a template cache entry")
    return Outcome(label, None if confidence is None else float(confidence), tier, reason)


class _CountingTTLCache(TTLCache):
    """A TTLCache that counts capacity evictions and TTL expirations."""

    evictions = 0
    expirations = 0

    def popitem(self) -> Any:
        self.evictions += 1
        return super().popitem()

    def expire(self, time: float | None = None) -> Any:
        expired = super().expire(time)
        self.expirations += len(expired)
        return expired


class TemplateCache:
    """Two-level cache of model-tier outcomes; satisfies ``pipeline.VerdictCache``."""

    def __init__(
        self,
        directory: str | Path | None,
        *,
        l1_max_entries: int = 100_000,
        l1_ttl_seconds: float = 3600.0,
        l2_size_limit_bytes: int = 256 * 1024 * 1024,
        registry: MetricsRegistry | None = None,
        timer: Callable[[], float] = time.monotonic,
        retry_after_seconds: float = 30.0,
    ) -> None:
        self.registry = registry or MetricsRegistry()
        self._timer = timer
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._l1 = _CountingTTLCache(l1_max_entries, l1_ttl_seconds, timer=timer)
        self._directory = None if directory is None else Path(directory)
        self._size_limit = l2_size_limit_bytes
        self._retry_after = retry_after_seconds
        self._l2: diskcache.Cache | None = None
        self._closed = False
        self._l2_failed_at: float | None = None  # set while L2 is being skipped
        self._last_error: str | None = None
        self._counts = dict.fromkeys(
            ("l1_hits", "l1_misses", "l2_hits", "l2_misses", "l2_errors", "l2_evictions"), 0
        )
        if self._directory is not None:
            self._l2_call("open", lambda l2: None)

    @classmethod
    def from_settings(
        cls, settings: Any, registry: MetricsRegistry | None = None
    ) -> TemplateCache | None:
        """The cache a deployment describes; ``None`` when ``cache_enabled`` is false."""
        if not settings.cache_enabled:
            return None
        size_limit = settings.cache_l2_size_limit_bytes
        return cls(
            settings.cache_dir if size_limit > 0 else None,
            l1_max_entries=settings.cache_l1_max_entries,
            l1_ttl_seconds=settings.cache_l1_ttl_seconds,
            l2_size_limit_bytes=size_limit,
            registry=registry,
        )

    # -- the pipeline's interface ---------------------------------------------------------

    def get_many(self, keys: Sequence[str]) -> dict[str, Outcome]:
        """Outcomes for the keys either level holds; absent keys are simply left out."""
        found: dict[str, Outcome] = {}
        missing: list[str] = []
        l1 = self._l1
        with self._lock:
            for key in keys:
                try:
                    found[key] = l1[key]
                except KeyError:
                    missing.append(key)
        self._count("l1", len(found), len(missing))
        if not missing:
            return found
        promoted = self._l2_call("get", lambda l2: self._l2_get(l2, missing)) or {}
        if promoted:
            with self._lock:
                l1.update(promoted)
            found.update(promoted)
        return found

    def set_many(self, items: Mapping[str, Outcome]) -> None:
        """Store new outcomes in both levels; non-cacheable outcomes are ignored."""
        fresh = {key: outcome for key, outcome in items.items() if outcome.cacheable}
        if not fresh:
            return
        with self._lock:
            self._l1.update(fresh)
        self._l2_call("set", lambda l2: self._l2_add(l2, fresh))

    # -- admin, stats, health, lifecycle --------------------------------------------------

    def clear(self) -> dict[str, int]:
        """Empty both levels; returns how many entries each held."""
        with self._lock:
            held = len(self._l1)
            self._l1.clear()
        removed = self._l2_call("clear", lambda l2: l2.clear(retry=True))
        return {"l1": held, "l2": removed or 0}

    def stats(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self._counts)
            l1 = {
                "size": len(self._l1),
                "capacity": int(self._l1.maxsize),
                "ttl_seconds": self._l1.ttl,
                "evictions": self._l1.evictions,
                "expirations": self._l1.expirations,
            }
        l1.update(_ratio(counts["l1_hits"], counts["l1_misses"]), errors=0)
        sizes = self._l2_call("stats", lambda l2: (len(l2), l2.volume())) or (None, None)
        l2 = {
            "state": self._l2_state(),
            "directory": None if self._directory is None else str(self._directory),
            "size": sizes[0],
            "capacity_bytes": self._size_limit if self._directory is not None else 0,
            "volume_bytes": sizes[1],
            "evictions": counts["l2_evictions"],
            "errors": counts["l2_errors"],
            **_ratio(counts["l2_hits"], counts["l2_misses"]),
        }
        return {"l1": l1, "l2": l2}

    def health(self) -> dict[str, Any]:
        state = self._l2_state()
        return {
            "status": "degraded" if state == "failed" else "ok",
            "l2": state,
            "last_error": self._last_error,
        }

    def close(self) -> None:
        """Close the disk level; the cache then runs from memory alone."""
        with self._open_lock:
            self._closed = True
            l2, self._l2 = self._l2, None
        if l2 is not None:
            try:
                l2.close()
            except Exception:  # closing a broken database must not stop a shutdown
                log.debug("closing the disk cache failed", exc_info=True)

    # -- internals ------------------------------------------------------------------------

    def _count(self, level: str, hits: int, misses: int) -> None:
        with self._lock:
            self._counts[f"{level}_hits"] += hits
            self._counts[f"{level}_misses"] += misses
        self.registry.count("cache_hits", hits, level=level)
        self.registry.count("cache_misses", misses, level=level)

    def _l2_state(self) -> str:
        if self._directory is None:
            return "off"
        return "ok" if self._l2_failed_at is None else "failed"

    def _l2_call(self, what: str, action: Callable[[diskcache.Cache], _T]) -> _T | None:
        """Run ``action`` on L2 unless it is off or failed recently; never raises."""
        if self._directory is None or self._closed:
            return None
        failed_at = self._l2_failed_at
        if failed_at is not None and self._timer() - failed_at < self._retry_after:
            return None
        try:
            l2 = self._l2
            if l2 is None:
                l2 = self._open()
            result = action(l2)
        except Exception as exc:  # sqlite, OS and diskcache errors alike: L1 carries on
            self._l2_failure(what, exc)
            return None
        if failed_at is not None:
            self._l2_failed_at = None
            log.warning("template disk cache at %s works again", self._directory)
        return result

    def _open(self) -> diskcache.Cache:
        with self._open_lock:  # two threads finding L2 closed open it once
            if self._l2 is not None:
                return self._l2
            self._l2 = self._new_l2()
            return self._l2

    def _new_l2(self) -> diskcache.Cache:
        return diskcache.Cache(
            str(self._directory),
            timeout=1.0,  # a locked database fails fast instead of stalling the event loop
            disk=JsonTextDisk,
            size_limit=self._size_limit,
            eviction_policy="least-recently-stored",  # reads never write
            statistics=False,
        )

    def _count_error(self, what: str, exc: Exception) -> None:
        self._last_error = f"{what}: {type(exc).__name__}: {str(exc)[:200]}"
        with self._lock:
            self._counts["l2_errors"] += 1
        self.registry.count("cache_errors", 1, level="l2")

    def _l2_failure(self, what: str, exc: Exception) -> None:
        first = self._l2_failed_at is None
        self._l2_failed_at = self._timer()
        self._count_error(what, exc)
        if first:
            log.warning(
                "template disk cache at %s failed (%s); carrying on with memory only, "
                "retrying every %gs",
                self._directory,
                self._last_error,
                self._retry_after,
            )

    def _l2_get(self, l2: diskcache.Cache, keys: list[str]) -> dict[str, Outcome]:
        found: dict[str, Outcome] = {}
        for key in keys:
            l2_key = f"{L2_FORMAT}\x1f{key}"
            try:
                text = l2.get(l2_key)
                if text is not None:
                    found[key] = decode(text)
            except ValueError as exc:  # a damaged or planted entry is a miss, and is removed
                self._count_error("get", exc)
                l2.delete(l2_key)
        self._count("l2", len(found), len(keys) - len(found))
        return found

    def _l2_add(self, l2: diskcache.Cache, items: Mapping[str, Outcome]) -> None:
        with l2.transact(retry=False):
            before = len(l2)
            added = sum(
                l2.add(f"{L2_FORMAT}\x1f{key}", encode(outcome)) for key, outcome in items.items()
            )
            evicted = before + added - len(l2)
        if evicted > 0:
            with self._lock:
                self._counts["l2_evictions"] += evicted


def _ratio(hits: int, misses: int) -> dict[str, Any]:
    total = hits + misses
    return {"hits": hits, "misses": misses, "hit_ratio": hits / total if total else None}
