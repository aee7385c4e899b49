"""The template cache's disk level (L2): diskcache holding JSON text, that never fails a caller.

Why a wrapper: diskcache is sqlite plus files, and disks fail — a directory that cannot be
created, a corrupt database (``sqlite3.DatabaseError``), a read-only mount or a full disk
(``sqlite3.OperationalError``). Every call here catches that, counts it, logs it once per
outage, and answers as if the level were empty; the level is skipped for
``retry_after_seconds`` and then tried again. A database locked by another process for
longer than ``lock_timeout_seconds`` skips just that call (counted, not an outage). Values
are JSON text; pickled entries (which diskcache would otherwise unpickle) are refused, so a
planted cache file cannot run code.
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
from diskcache.core import MODE_PICKLE

from monitoring import MetricsRegistry
from processors.records import Outcome

log = logging.getLogger(__name__)

FORMAT = "v1"  # part of every L2 key: bump it when the JSON changes and old entries just miss
_T = TypeVar("_T")


class JsonTextDisk(diskcache.Disk):
    """A diskcache serializer that stores ``str`` only and refuses to unpickle anything."""

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
    fields = [outcome.label, outcome.confidence, outcome.tier, outcome.reason]
    return json.dumps(fields, separators=(",", ":"))


def decode(text: Any) -> Outcome:
    """The outcome ``encode`` wrote; ``ValueError`` for anything else."""
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


class DiskLevel:
    """L2: thread-safe and process-safe (sqlite); no method raises because of the disk."""

    def __init__(
        self,
        directory: str | Path,
        size_limit_bytes: int,
        registry: MetricsRegistry,
        timer: Callable[[], float] = time.monotonic,
        retry_after_seconds: float = 30.0,
        lock_timeout_seconds: float = 1.0,
        llm_ttl_seconds: float | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.llm_ttl_seconds = llm_ttl_seconds
        self.lock_timeout_seconds = lock_timeout_seconds
        self.size_limit_bytes = size_limit_bytes
        self.registry = registry
        self.last_error: str | None = None
        self._timer = timer
        self._retry_after = retry_after_seconds
        self._lock = threading.Lock()
        self._cache: diskcache.Cache | None = None
        self._closed = False
        self._failed_at: float | None = None  # set while the level is being skipped
        self.counts = dict.fromkeys(("hits", "misses", "errors", "evictions"), 0)
        self._call("open", lambda cache: None)

    @property
    def state(self) -> str:
        """``ok``, or ``failed`` while the last error is being waited out."""
        return "ok" if self._failed_at is None else "failed"

    def get_many(self, keys: Sequence[str]) -> dict[str, Outcome]:
        return self._call("get", lambda cache: self._get(cache, keys)) or {}

    def add_many(self, items: Mapping[str, Outcome]) -> None:
        self._call("set", lambda cache: self._add(cache, items))

    def clear(self) -> int:
        """Entries removed (0 when the level is unusable)."""
        return self._call("clear", lambda cache: cache.clear(retry=True)) or 0

    def entries(self) -> int:
        """How many entries the level holds; raises ``LookupError`` while it is unusable."""
        count = self._call("size", len)
        if count is None:
            raise LookupError(f"template disk cache at {self.directory} is {self.state}")
        return count

    def stats(self) -> dict[str, Any]:
        sizes = self._call("stats", lambda cache: (len(cache), cache.volume())) or (None, None)
        with self._lock:
            counts = dict(self.counts)
        total = counts["hits"] + counts["misses"]
        return {
            "state": self.state,
            "directory": str(self.directory),
            "size": sizes[0],
            "capacity_bytes": self.size_limit_bytes,
            "volume_bytes": sizes[1],
            **counts,
            "hit_ratio": counts["hits"] / total if total else None,
        }

    def close(self) -> None:
        with self._lock:
            self._closed = True
            cache, self._cache = self._cache, None
        if cache is not None:
            try:
                cache.close()
            except Exception:  # closing a broken database must not stop a shutdown
                log.debug("closing the disk cache failed", exc_info=True)

    # -- internals ------------------------------------------------------------------------

    def _call(self, what: str, action: Callable[[diskcache.Cache], _T]) -> _T | None:
        """Run ``action`` unless closed or failed recently; never raises."""
        failed_at = self._failed_at
        waiting = failed_at is not None and self._timer() - failed_at < self._retry_after
        if self._closed or waiting:
            return None
        try:
            cache = self._cache if self._cache is not None else self._open()
            result = action(cache)
        except diskcache.Timeout as exc:  # another process holds the lock: skip this once
            self._error(what, exc)
            return None
        except Exception as exc:  # sqlite, OS and diskcache errors alike: L1 carries on
            self._failed(what, exc)
            return None
        if failed_at is not None:
            self._failed_at = None
            log.warning("template disk cache at %s works again", self.directory)
        return result

    def _open(self) -> diskcache.Cache:
        with self._lock:  # threads finding the level closed open it once
            if self._cache is None:
                self._cache = diskcache.Cache(
                    str(self.directory),
                    timeout=self.lock_timeout_seconds,  # not diskcache's 60 s: loop time
                    disk=JsonTextDisk,
                    size_limit=self.size_limit_bytes,
                    eviction_policy="least-recently-stored",  # so reads never write
                    # Not WAL: its index (-shm) is memory-mapped, and an unwritable one
                    # (read-only remount, immutable file) kills the process with SIGBUS.
                    sqlite_journal_mode="delete",
                )
            return self._cache

    def _error(self, what: str, exc: Exception) -> None:
        self.last_error = f"{what}: {type(exc).__name__}: {str(exc)[:200]}"
        with self._lock:
            self.counts["errors"] += 1
        self.registry.count("cache_errors", 1, level="l2")

    def _failed(self, what: str, exc: Exception) -> None:
        first = self._failed_at is None
        self._failed_at = self._timer()
        self._error(what, exc)
        if first:
            log.warning(
                "template disk cache at %s failed (%s); using memory only, retrying every %gs",
                self.directory,
                self.last_error,
                self._retry_after,
            )

    def _get(self, cache: diskcache.Cache, keys: Sequence[str]) -> dict[str, Outcome]:
        found: dict[str, Outcome] = {}
        for key in keys:
            l2_key = f"{FORMAT}\x1f{key}"
            try:
                text = cache.get(l2_key)
                if text is not None:
                    found[key] = decode(text)
            except ValueError as exc:  # a damaged or planted entry is a miss, and goes away
                self._error("get", exc)
                cache.delete(l2_key)
        with self._lock:
            self.counts["hits"] += len(found)
            self.counts["misses"] += len(keys) - len(found)
        self.registry.count("cache_hits", len(found), level="l2")
        self.registry.count("cache_misses", len(keys) - len(found), level="l2")
        return found

    def _expire(self, outcome: Outcome) -> float | None:
        """Seconds the entry lives: LLM verdicts expire (diskcache drops them), others not."""
        return self.llm_ttl_seconds if outcome.tier == "llm" else None

    def _add(self, cache: diskcache.Cache, items: Mapping[str, Outcome]) -> None:
        # add, not set: an answer is a pure function of its key, so an existing entry is right
        with cache.transact(retry=False):
            before = len(cache)
            added = sum(
                cache.add(f"{FORMAT}\x1f{k}", encode(o), expire=self._expire(o))
                for k, o in items.items()
            )
            evicted = before + added - len(cache)
        if evicted > 0:
            with self._lock:
                self.counts["evictions"] += evicted
