"""The pipeline's asynchronous view of the template cache.

Memory lookups run on the event loop (cheap); what memory misses goes to the disk or Redis
in a worker thread; writes go to a thread of their own, one at a time (sqlite takes one
writer anyway, and a stdout forwarder on the default executor must not stall them). With a
level shared by replicas (Redis) it also runs the fleet-wide single flight: leases on new
templates, and waiting for verdicts another replica is computing, polled without holding
a thread. Nothing here raises because of the cache.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from monitoring import MetricsRegistry
from processors.records import Outcome

__all__ = ["CacheAccess", "VerdictCache"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class VerdictCache(Protocol):
    """The template cache as the pipeline needs it (``processors.cache.TemplateCache``
    adds ``get_memory`` and, for a shared level, ``lease``/``poll``/``release``)."""

    def get_many(self, keys: Sequence[str]) -> dict[str, Outcome]: ...

    def set_many(self, items: Mapping[str, Outcome]) -> None: ...


class CacheAccess:
    """``cache`` (or None: no caching) driven from the event loop."""

    def __init__(
        self, cache: VerdictCache | None, workers: Executor, registry: MetricsRegistry
    ) -> None:
        self.cache = cache
        self.registry = registry
        self._workers = workers
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="logclass-cache-write")

    @property
    def shared(self) -> bool:
        return bool(getattr(self.cache, "shared", False))

    async def lookup(self, keys: list[str]) -> dict[str, Outcome]:
        """Outcomes the cache holds: memory on the loop, the rest in a thread."""
        if self.cache is None or not keys:
            return {}
        get_memory = getattr(self.cache, "get_memory", None)
        if get_memory is None:  # a plain VerdictCache: in memory, cheap
            return self.cache.get_many(keys)
        hits: dict[str, Outcome] = get_memory(keys)
        missing = [key for key in keys if key not in hits]
        if missing:
            hits.update(await self._off_loop(self.cache.get_many, missing))
        return hits

    async def write(self, fresh: dict[str, Outcome]) -> None:
        if self.cache is None or not fresh:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._writer, self.cache.set_many, fresh
            )
        except RuntimeError:  # the executor was shut down (closing): skip, it is a cache
            log.debug("cache write of %d outcomes skipped: closing", len(fresh))

    async def lease(self, keys: list[str]) -> set[str]:
        """The keys this replica computes (all of them without a shared level)."""
        if not self.shared:
            return set(keys)
        held: set[str] = await self._off_loop(self.cache.lease, keys)  # type: ignore[union-attr]
        return held

    def release(self, keys: list[str]) -> None:
        """Drop leases, on the writer thread, so after the verdicts' write has landed."""
        if not keys:
            return
        try:
            self._writer.submit(self.cache.release, keys)  # type: ignore[union-attr]
        except RuntimeError:  # closing
            log.debug("release of %d leases skipped: closing", len(keys))

    async def wait_for_replicas(self, keys: list[str]) -> dict[str, Outcome]:
        """Verdicts other replicas write for ``keys``: polled until each has one, or its
        lease is gone without one, or the lease time passed (then the caller computes)."""
        poll = self.cache.poll  # type: ignore[union-attr]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + getattr(self.cache, "lease_seconds", 10.0)
        found: dict[str, Outcome] = {}
        remaining = list(keys)
        pause = 0.02
        while remaining:
            got, held = await self._off_loop(poll, remaining)
            found.update(got)
            remaining = [key for key in remaining if key in held]
            left = deadline - loop.time()
            if not remaining or left <= 0:
                break
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 1.5, 0.05)
        if found:
            self.registry.count("templates_from_replicas", len(found))
        return found

    def close(self) -> None:
        self._writer.shutdown(wait=False, cancel_futures=True)
        close = getattr(self.cache, "close", None)
        if close is not None:
            close()

    async def _off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._workers, fn, *args)
