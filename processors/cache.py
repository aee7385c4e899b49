"""The template cache: L1 in memory (cachetools ``TTLCache``), L2 on disk (``cache_disk``)
or, with ``LOGCLASS_REDIS_URL``, in a Redis every replica shares (``cache_redis``).

A lookup goes L1 → L2 and promotes L2 hits to L1; a new outcome is written to both. Keys
are the pipeline's strings, which carry the taxonomy and model fingerprints, so a changed
taxonomy, head or prompt misses instead of serving an old label; L2 adds its own format
version. Only cacheable model-tier outcomes get here (regex verdicts are never cached).
LLM verdicts expire after ``llm_ttl_seconds`` in both levels (a label a hostile template
steered must not live forever); the other tiers' answers stay until evicted.

With Redis, ``lease`` / ``wait_for`` / ``release`` make a template new to the whole fleet
be classified by one replica while the others wait for its verdict; without it they are
no-ops (every key is this process's to classify).

Guarantees: thread-safe (the event loop and worker threads share one instance); no method
raises because of the disk or Redis — a failing L2 leaves L1 working and ``health()``
``degraded``. ``get_memory`` touches memory only (cheap enough for the event loop); every
other method may wait on L2 and belongs in a worker thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cachetools import TLRUCache

from monitoring import MetricsRegistry
from processors.cache_disk import DiskLevel
from processors.records import Outcome

if TYPE_CHECKING:
    from processors.cache_redis import RedisLevel

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
    """Two-level cache of model-tier outcomes; satisfies ``cache_access.VerdictCache``.

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
        redis_url: str | None = None,
        redis_timeout_seconds: float = 0.25,
        redis_lease_seconds: float = 10.0,
    ) -> None:
        self.registry = registry or MetricsRegistry()
        self._lock = threading.Lock()
        self.l1_ttl_seconds = l1_ttl_seconds
        self.llm_ttl_seconds = llm_ttl_seconds
        self._l1 = _CountingTTLCache(l1_max_entries, self._expires_at, timer=timer)
        self._hits = self._misses = 0
        self._shared: RedisLevel | None = None
        self._l2: DiskLevel | RedisLevel | None
        if redis_url:  # the shared level replaces the disk
            from processors.cache_redis import RedisLevel  # redis-py only when used

            self._l2 = self._shared = RedisLevel(
                redis_url,
                self.registry,
                timeout=redis_timeout_seconds,
                lease_seconds=redis_lease_seconds,
                llm_ttl_seconds=llm_ttl_seconds,
                timer=timer,
            )
        elif directory is not None:
            self._l2 = DiskLevel(
                directory,
                l2_size_limit_bytes,
                self.registry,
                timer,
                retry_after_seconds,
                l2_lock_timeout_seconds,
                llm_ttl_seconds,
            )
        else:
            self._l2 = None
        self.registry.gauge_callback("cache_entries", self._l1_size, level="l1")
        if self._l2 is not None:
            self.registry.gauge_callback("cache_entries", self._l2.entries, level="l2")

    @classmethod
    def from_settings(
        cls, settings: Any, registry: MetricsRegistry | None = None
    ) -> TemplateCache | None:
        """The cache a deployment describes; ``None`` when ``cache_enabled`` is false.

        ``redis_url`` set: L2 is that Redis, shared by every replica (the disk is not used).
        Else ``cache_l2_size_limit_bytes=0`` keeps it in memory (e.g. a read-only container).
        """
        if not settings.cache_enabled:
            return None
        size_limit = settings.cache_l2_size_limit_bytes
        secret = getattr(settings, "redis_url", None)  # a SecretStr: never logged
        reveal = getattr(secret, "get_secret_value", None)
        redis_url = reveal() if reveal is not None else secret
        return cls(
            settings.cache_dir if size_limit > 0 and not redis_url else None,
            l1_max_entries=settings.cache_l1_max_entries,
            l1_ttl_seconds=settings.cache_l1_ttl_seconds,
            l2_size_limit_bytes=size_limit,
            registry=registry,
            llm_ttl_seconds=getattr(settings, "llm_cache_ttl_seconds", DEFAULT_LLM_TTL_SECONDS),
            redis_url=redis_url or None,
            redis_timeout_seconds=getattr(settings, "redis_timeout_seconds", 0.25),
            redis_lease_seconds=getattr(settings, "redis_lease_seconds", 10.0),
        )

    def _expires_at(self, key: str, outcome: Outcome, now: float) -> float:
        if outcome.tier == LLM_TIER:
            return now + min(self.l1_ttl_seconds, self.llm_ttl_seconds)
        return now + self.l1_ttl_seconds

    # -- the pipeline's interface ---------------------------------------------------------

    def get_memory(self, keys: Sequence[str]) -> dict[str, Outcome]:
        """Outcomes L1 holds, without touching L2: for the event loop. Counts the hits
        only; pass the keys it left out to ``get_many``, which counts them."""
        found: dict[str, Outcome] = {}
        l1 = self._l1
        with self._lock:
            for key in keys:
                outcome = l1.get(key)
                if outcome is not None:
                    found[key] = outcome
            self._hits += len(found)
        self.registry.count("cache_hits", len(found), level="l1")
        return found

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

    @property
    def shared(self) -> bool:
        """Whether L2 is shared with other processes (Redis), so leases mean something."""
        return self._shared is not None

    def lease(self, keys: Sequence[str]) -> set[str]:
        """The keys this process should classify itself: all of them without Redis (or
        while it is out); with it, those no other replica is classifying now."""
        if self._shared is None:
            return set(keys)
        return self._shared.lease(keys)

    @property
    def lease_seconds(self) -> float:
        """How long a lease lasts: the longest a wait for another replica makes sense."""
        return self._shared.lease_seconds if self._shared is not None else 0.0

    def poll(self, keys: Sequence[str]) -> tuple[dict[str, Outcome], set[str]]:
        """One look at the shared level, for callers that wait without holding a thread:
        the verdicts found (promoted to L1) and the keys another replica still holds;
        keys in neither are this process's to classify. Without Redis: ``({}, set())``."""
        if self._shared is None or not keys:
            return {}, set()
        found, held = self._shared.poll(keys)
        if found:
            with self._lock:
                self._l1.update(found)
        return found, held

    def wait_for(self, keys: Sequence[str], timeout: float) -> dict[str, Outcome]:
        """The verdicts other replicas produce for ``keys`` within ``timeout`` seconds
        (promoted to L1); a key whose holder is gone or gave up is left out at once, and
        so is everything when Redis is out. Without Redis: ``{}`` at once."""
        if self._shared is None or not keys:
            return {}
        found = self._shared.wait_for(keys, timeout)
        if found:
            with self._lock:
                self._l1.update(found)
        return found

    def release(self, keys: Sequence[str]) -> None:
        """Drop this process's leases on ``keys`` (after ``set_many``, or when the outcome
        was not cacheable, so that waiting replicas stop waiting)."""
        if self._shared is not None and keys:
            self._shared.release(keys)

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
        """``degraded`` while L2 (disk or Redis) is failing (answers still come from memory)."""
        if self._l2 is None:
            return {"status": "ok", "l2": "off", "last_error": None}
        state = self._l2.state
        if self._shared is not None:
            return {
                "status": "ok" if state == "ok" else "degraded",
                "l2": state,
                "backend": "redis",
                "url": self._shared.url,  # password redacted
                "breaker": self._shared.breaker,
                "last_error": self._shared.last_error,
            }
        assert isinstance(self._l2, DiskLevel)
        return {
            "status": "ok" if state == "ok" else "degraded",
            "l2": state,
            "directory": str(self._l2.directory),
            "last_error": self._l2.last_error,
        }

    def close(self) -> None:
        """Close L2 (disk or Redis); the cache then answers from memory alone."""
        if self._l2 is not None:
            self._l2.close()
