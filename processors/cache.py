"""The template cache: L1 in memory (cachetools ``TTLCache``), L2 on disk (``cache_disk``).

A lookup goes L1 → L2 and promotes L2 hits to L1; a new outcome is written to both. Keys
are the pipeline's strings, which carry the taxonomy and model fingerprints, so a changed
taxonomy, head or prompt misses instead of serving an old label; L2 adds its own format
version. Only cacheable model-tier outcomes get here (regex verdicts are never cached).
LLM verdicts expire after ``llm_ttl_seconds`` in both levels (a label a hostile template
steered must not live forever); the other tiers' answers stay until evicted.

Guarantees: thread-safe (the event loop and worker threads share one instance); no method
raises because of the disk — a failing L2 leaves L1 working and ``health()`` ``degraded``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cachetools import TLRUCache

from monitoring import MetricsRegistry
from processors.cache_disk import DiskLevel
from processors.records import Outcome

__all__ = ["DEFAULT_LLM_TTL_SECONDS", "TemplateCache"]

# An LLM's label may have been steered by the template it labels (prompt injection), so
# unlike the other tiers' answers it is not kept for good: it is asked again after this.
DEFAULT_LLM_TTL_SECONDS = 86_400.0
LLM_TIER = "llm"


class _CountingTTLCache(TLRUCache):
    """A per-entry TTL cache that counts capacity evictions and TTL expirations."""

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
    """Two-level cache of model-tier outcomes; satisfies ``pipeline.VerdictCache``.

    ``directory=None`` keeps it in memory only. ``timer`` drives the L1 TTL and the L2
    retry delay (tests pass a fake clock).
    """

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
        l2_lock_timeout_seconds: float = 1.0,
        llm_ttl_seconds: float = DEFAULT_LLM_TTL_SECONDS,
    ) -> None:
        self.registry = registry or MetricsRegistry()
        self._lock = threading.Lock()
        self.l1_ttl_seconds = l1_ttl_seconds
        self.llm_ttl_seconds = llm_ttl_seconds
        self._l1 = _CountingTTLCache(l1_max_entries, self._expires_at, timer=timer)
        self._hits = self._misses = 0
        self._l2 = (
            None
            if directory is None
            else DiskLevel(
                directory,
                l2_size_limit_bytes,
                self.registry,
                timer,
                retry_after_seconds,
                l2_lock_timeout_seconds,
                llm_ttl_seconds,
            )
        )
        self.registry.gauge_callback("cache_entries", self._l1_size, level="l1")
        if self._l2 is not None:
            self.registry.gauge_callback("cache_entries", self._l2.entries, level="l2")

    @classmethod
    def from_settings(
        cls, settings: Any, registry: MetricsRegistry | None = None
    ) -> TemplateCache | None:
        """The cache a deployment describes; ``None`` when ``cache_enabled`` is false.

        ``cache_l2_size_limit_bytes=0`` keeps it in memory (e.g. a read-only container).
        """
        if not settings.cache_enabled:
            return None
        size_limit = settings.cache_l2_size_limit_bytes
        return cls(
            settings.cache_dir if size_limit > 0 else None,
            l1_max_entries=settings.cache_l1_max_entries,
            l1_ttl_seconds=settings.cache_l1_ttl_seconds,
            l2_size_limit_bytes=size_limit,
            registry=registry,
            llm_ttl_seconds=getattr(settings, "llm_cache_ttl_seconds", DEFAULT_LLM_TTL_SECONDS),
        )

    def _expires_at(self, key: str, outcome: Outcome, now: float) -> float:
        if outcome.tier == LLM_TIER:
            return now + min(self.l1_ttl_seconds, self.llm_ttl_seconds)
        return now + self.l1_ttl_seconds

    # -- the pipeline's interface ---------------------------------------------------------

    def get_many(self, keys: Sequence[str]) -> dict[str, Outcome]:
        """Outcomes for the keys either level holds; keys neither holds are left out."""
        found: dict[str, Outcome] = {}
        missing: list[str] = []
        l1 = self._l1
        with self._lock:
            for key in keys:
                try:
                    found[key] = l1[key]
                except KeyError:
                    missing.append(key)
            hits = len(keys) - len(missing)  # per lookup, like misses (keys may repeat)
            self._hits += hits
            self._misses += len(missing)
        self.registry.count("cache_hits", hits, level="l1")
        self.registry.count("cache_misses", len(missing), level="l1")
        if missing and self._l2 is not None:
            promoted = self._l2.get_many(missing)
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
        if self._l2 is not None:
            self._l2.add_many(fresh)

    # -- admin, stats, health, lifecycle --------------------------------------------------

    def _l1_size(self) -> float:
        with self._lock:
            return len(self._l1)

    def clear(self) -> dict[str, int]:
        """Empty both levels; returns how many entries each held."""
        with self._lock:
            held = len(self._l1)
            counted = self._l1.evictions, self._l1.expirations
            self._l1.clear()  # MutableMapping.clear pops items: those are not evictions
            self._l1.evictions, self._l1.expirations = counted
        return {"l1": held, "l2": self._l2.clear() if self._l2 is not None else 0}

    def stats(self) -> dict[str, Any]:
        """Per level: size, capacity, hits, misses, hit ratio, evictions, errors."""
        with self._lock:
            total = self._hits + self._misses
            l1 = {
                "size": len(self._l1),
                "capacity": int(self._l1.maxsize),
                "ttl_seconds": self.l1_ttl_seconds,
                "llm_ttl_seconds": self.llm_ttl_seconds,
                "hits": self._hits,
                "misses": self._misses,
                "hit_ratio": self._hits / total if total else None,
                "evictions": self._l1.evictions,
                "expirations": self._l1.expirations,
                "errors": 0,
            }
        l2 = self._l2.stats() if self._l2 is not None else {"state": "off"}
        return {"l1": l1, "l2": l2}

    def health(self) -> dict[str, Any]:
        """``degraded`` while the disk level is failing (answers still come from memory)."""
        if self._l2 is None:
            return {"status": "ok", "l2": "off", "last_error": None}
        state = self._l2.state
        return {
            "status": "ok" if state == "ok" else "degraded",
            "l2": state,
            "directory": str(self._l2.directory),
            "last_error": self._l2.last_error,
        }

    def close(self) -> None:
        """Close the disk level; the cache then answers from memory alone."""
        if self._l2 is not None:
            self._l2.close()
