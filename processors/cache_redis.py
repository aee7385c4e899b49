"""The template cache's shared level: Redis, which every replica reads and writes.

Set ``LOGCLASS_REDIS_URL`` and this replaces the per-process disk level (``cache_disk``):
the same versioned keys and JSON values (no pickle), under ``logclass:`` so one Redis can
serve other things too, and the same TTL for LLM verdicts. On top of the cache it gives
the replicas a **single flight across processes**: before classifying a template new to
it, a replica takes a short lease on it (``SET NX PX``); a replica that finds the lease
taken waits (bounded) for the holder's verdict instead of asking the model again. A
replica that dies holding a lease costs at most the lease time.

Redis is a network dependency, so every call here is bounded and never raises: one
command may take ``timeout`` seconds (connect included, no retries), consecutive failures
open a circuit breaker (``processors.breaker``) that answers at once, and a background
thread probes the server while it is out, so the level comes back by itself, also with no
traffic. While it is out, the memory level keeps serving and every replica classifies
what it misses itself. Nothing logged or reported carries the URL's password.

The client is redis-py's synchronous one: the template cache is called from worker
threads (the pipeline never awaits it on the event loop), and its connection pool is
thread-safe. Keys: ``logclass:v1:<cache key>`` (a verdict) and
``logclass:lease:v1:<cache key>`` (a lease; its value names the holder). A Redis Cluster
is not supported (one lookup spans many hash slots); use one primary (with replicas or
Sentinel behind a stable address) or a managed single-endpoint Redis.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from monitoring import MetricsRegistry
from processors.breaker import CLOSED, CircuitBreaker
from processors.cache_disk import FORMAT, decode, encode
from processors.records import Outcome
from processors.redaction import redact_url

log = logging.getLogger(__name__)

NAMESPACE = "logclass"
SCHEMES = ("redis", "rediss", "unix")
_T = TypeVar("_T")

# Deletes each lease only while it is still this process's (its value is our token): a
# lease that expired and was taken by another replica is not ours to drop.
_RELEASE = """
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
"""


class RedisLevel:
    """The shared level; thread-safe, and no method raises because of Redis.

    ``lease_seconds``: how long a replica may hold a template it classifies.
    ``breaker_failures`` consecutive failed commands make the level skip Redis for
    ``breaker_cooldown`` seconds, then one probe decides. ``timer`` drives the breaker
    (tests pass a fake clock).
    """

    backend = "redis"

    def __init__(
        self,
        url: str,
        registry: MetricsRegistry,
        *,
        timeout: float = 0.25,
        lease_seconds: float = 10.0,
        llm_ttl_seconds: float | None = None,
        timer: Callable[[], float] = time.monotonic,
        breaker_failures: int = 3,
        breaker_cooldown: float = 2.0,
        poll_seconds: float = 0.02,
        namespace: str = NAMESPACE,
        probe: bool = True,
    ) -> None:
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme not in SCHEMES:
            raise ValueError(
                f"LOGCLASS_REDIS_URL must start with redis://, rediss:// or unix:// "
                f"(got {redact_url(url)!r})"
            )
        self.url = redact_url(url)  # what may be shown; the real one lives in the pool only
        self.registry = registry
        self.timeout = timeout
        self.lease_seconds = lease_seconds
        self.llm_ttl_seconds = llm_ttl_seconds
        self.poll_seconds = poll_seconds
        self.last_error: str | None = None
        password = urlsplit(url).password if scheme != "unix" else None
        self._secrets = {password, unquote(password)} - {""} if password else set()
        self._prefix = f"{namespace}:{FORMAT}:".encode()
        self._lease_prefix = f"{namespace}:lease:{FORMAT}:".encode()
        self._clear_match = f"{namespace}:v*"  # verdicts of every format; not the leases
        self._token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}".encode()
        self._lock = threading.Lock()  # the breaker and the counters
        self._breaker = CircuitBreaker(
            breaker_failures, breaker_cooldown, clock=timer, on_change=self._on_change
        )
        self._closed = False
        self._stop = threading.Event()
        self._probe_enabled = probe
        self._prober: threading.Thread | None = None
        self._prober_lock = threading.Lock()
        self._size: tuple[float, int] | None = None  # (when, DBSIZE) for the gauge
        self._timer = timer
        self.counts = dict.fromkeys(
            ("hits", "misses", "errors", "writes", "leases_taken", "leases_held_elsewhere",
             "waits_found", "waits_orphaned", "waits_timed_out", "skipped"), 0,
        )  # fmt: skip
        try:
            self._client = redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),  # one attempt: the breaker decides the rest
                retry_on_error=[],
                health_check_interval=0,
                client_name="logclass",
            )
        except Exception as exc:  # a malformed URL: say so without the password
            raise ValueError(
                f"LOGCLASS_REDIS_URL {self.url!r}: {self._scrub(str(exc))}"
            ) from None
        self._release_script = self._client.register_script(_RELEASE)
        self._call("connect", lambda client: client.ping())

    # -- state ----------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``ok``, or ``failed`` while commands fail or the breaker keeps Redis skipped."""
        with self._lock:
            healthy = self._breaker.state == CLOSED and self._breaker.consecutive_failures == 0
        return "ok" if healthy else "failed"

    @property
    def breaker(self) -> str:
        with self._lock:
            return self._breaker.state

    # -- the cache ------------------------------------------------------------------------

    def get_many(self, keys: Sequence[str]) -> dict[str, Outcome]:
        if not keys:
            return {}
        return self._call("get", lambda client: self._get(client, keys)) or {}

    def add_many(self, items: Mapping[str, Outcome]) -> None:
        if items:
            self._call("set", lambda client: self._add(client, items))

    def clear(self) -> int:
        """The logclass verdicts removed (any format version; leases and other keys stay);
        0 when Redis is out."""
        return self._call("clear", self._clear) or 0

    def entries(self) -> int:
        """Keys in the Redis database (``DBSIZE``: leases and other users' keys included),
        read at most every 5 s; ``LookupError`` while Redis is out."""
        now = time.monotonic()
        cached = self._size
        if cached is not None and now - cached[0] < 5.0 and self.state == "ok":
            return cached[1]
        size = self._call("size", lambda client: int(client.dbsize()))
        if size is None:
            raise LookupError(f"shared Redis cache at {self.url} is {self.state}")
        self._size = (now, size)
        return size

    def stats(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self.counts)
            breaker = self._breaker.state
        total = counts["hits"] + counts["misses"]
        try:
            size: int | None = self.entries()
        except LookupError:
            size = None
        return {
            "state": self.state,
            "backend": self.backend,
            "url": self.url,
            "size": size,
            "breaker": breaker,
            "lease_seconds": self.lease_seconds,
            **counts,
            "hit_ratio": counts["hits"] / total if total else None,
            "last_error": self.last_error,
        }

    # -- the single flight across replicas ------------------------------------------------

    def lease(self, keys: Sequence[str]) -> set[str]:
        """The keys this process should classify: those it could lease now. Keys another
        replica holds are left out (``wait_for`` them); Redis out → every key."""
        unique = list(dict.fromkeys(keys))
        if not unique:
            return set()
        mine = self._call("lease", lambda client: self._lease(client, unique))
        if mine is None:
            return set(unique)
        self._add_counts(leases_taken=len(mine), leases_held_elsewhere=len(unique) - len(mine))
        return mine

    def poll(self, keys: Sequence[str]) -> tuple[dict[str, Outcome], set[str]]:
        """One look (one round trip): the verdicts there are for ``keys``, and the keys
        another replica still holds a lease on; keys in neither are the caller's to
        classify. Redis out: ``({}, set())``."""
        unique = list(dict.fromkeys(keys))
        seen = self._call("wait", functools.partial(self._poll, keys=unique)) if unique else None
        if seen is None:
            return {}, set()
        found = {k: o for k, (_, o) in zip(unique, seen, strict=True) if o is not None}
        held = {k for k, (h, o) in zip(unique, seen, strict=True) if o is None and h}
        return found, held

    def wait_for(self, keys: Sequence[str], timeout: float) -> dict[str, Outcome]:
        """Poll until every key has a verdict, or its lease is gone without one (the holder
        died, or its outcome was not cacheable), or ``timeout`` passes; what was found."""
        remaining = list(dict.fromkeys(keys))
        found: dict[str, Outcome] = {}
        orphaned = 0
        deadline = time.monotonic() + max(0.0, timeout)
        pause = self.poll_seconds
        while remaining:
            seen = self._call("wait", functools.partial(self._poll, keys=remaining))
            if seen is None:  # Redis out: the caller classifies the rest itself
                break
            still = []
            for key, (held, outcome) in zip(remaining, seen, strict=True):
                if outcome is not None:
                    found[key] = outcome
                elif held:
                    still.append(key)
                else:
                    orphaned += 1
            remaining = still
            left = deadline - time.monotonic()
            if not remaining or left <= 0 or self._closed:
                break
            time.sleep(min(pause, left))
            pause = min(pause * 1.5, 0.05)
        self._add_counts(
            waits_found=len(found), waits_orphaned=orphaned, waits_timed_out=len(remaining)
        )
        return found

    def release(self, keys: Sequence[str]) -> None:
        """Drop this process's leases on ``keys`` (others' stay)."""
        unique = list(dict.fromkeys(keys))
        if unique:
            self._call("release", lambda client: self._release(client, unique))

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        self._closed = True
        self._stop.set()
        prober = self._prober
        if prober is not None and prober is not threading.current_thread():
            prober.join(timeout=2 * self.timeout + 1)
        try:
            self._client.close()
        except Exception:  # closing must not stop a shutdown
            log.debug("closing the Redis client failed", exc_info=True)

    # -- internals ------------------------------------------------------------------------

    def _vkey(self, key: str) -> bytes:
        return self._prefix + key.encode("utf-8", "surrogatepass")

    def _lkey(self, key: str) -> bytes:
        return self._lease_prefix + key.encode("utf-8", "surrogatepass")

    def _call(self, what: str, action: Callable[[redis.Redis], _T]) -> _T | None:
        """Run ``action`` unless closed or the breaker refuses; never raises."""
        with self._lock:
            allowed = not self._closed and self._breaker.allow()
            if not allowed and what != "probe":
                self.counts["skipped"] += 1
        if not allowed:
            return None
        try:
            result = action(self._client)
        except redis.ResponseError as exc:  # the server answered (OOM, READONLY…): no outage
            self._error(what, exc)
            with self._lock:
                self._breaker.record_success()
            return None
        except Exception as exc:  # connection refused, timeout, TLS, auth: an outage
            self._error(what, exc)
            with self._lock:
                self._breaker.record_failure()
            self._start_prober()  # so the level comes back without waiting for traffic
            return None
        with self._lock:
            recovered = self._breaker.consecutive_failures > 0
            self._breaker.record_success()
        if recovered:
            log.info("shared Redis cache at %s answers again", self.url)
        return result

    def _on_change(self, state: str) -> None:  # called under self._lock
        if state == "open":
            log.warning(
                "shared Redis cache at %s is out (%s); serving from memory, each replica "
                "classifying its own misses, probing every %gs",
                self.url, self.last_error, self._breaker.cooldown,
            )  # fmt: skip
        elif state == CLOSED:
            log.warning("shared Redis cache at %s works again", self.url)

    def _start_prober(self) -> None:
        if not self._probe_enabled or self._closed:
            return
        with self._prober_lock:
            prober = self._prober
            if prober is not None and prober.is_alive():
                return
            self._prober = threading.Thread(
                target=self._probe, name="logclass-redis-probe", daemon=True
            )
            self._prober.start()

    def _probe(self) -> None:
        """While the level is out, ping whenever the breaker lets one call through, so it
        recovers with no traffic (and /health says so)."""
        while not self._stop.wait(self._breaker.cooldown / 2):
            if self.state == "ok":
                return
            self._call("probe", lambda client: client.ping())

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _error(self, what: str, exc: Exception) -> None:
        self.last_error = self._scrub(f"{what}: {type(exc).__name__}: {str(exc)[:200]}")
        with self._lock:
            self.counts["errors"] += 1
        self.registry.count("cache_errors", 1, level="l2")

    def _add_counts(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                self.counts[name] += value
        for name, value in counts.items():
            if value:
                self.registry.count(f"cache_{name}", value)

    def _count_hits(self, hits: int, misses: int) -> None:
        with self._lock:
            self.counts["hits"] += hits
            self.counts["misses"] += misses
        self.registry.count("cache_hits", hits, level="l2")
        self.registry.count("cache_misses", misses, level="l2")

    def _decode_all(
        self, client: redis.Redis, keys: Sequence[str], values: Sequence[Any]
    ) -> list[Outcome | None]:
        """Decoded values; a damaged or planted entry is a miss, and goes away."""
        out: list[Outcome | None] = []
        bad: list[bytes] = []
        for key, value in zip(keys, values, strict=True):
            if value is None:
                out.append(None)
                continue
            try:
                out.append(decode(value.decode("utf-8")))
            except (ValueError, UnicodeDecodeError) as exc:
                self._error("get", exc)
                bad.append(self._vkey(key))
                out.append(None)
        if bad:
            client.delete(*bad)
        return out

    def _get(self, client: redis.Redis, keys: Sequence[str]) -> dict[str, Outcome]:
        values = client.mget([self._vkey(k) for k in keys])
        decoded = self._decode_all(client, keys, values)
        found = {k: o for k, o in zip(keys, decoded, strict=True) if o is not None}
        self._count_hits(len(found), len(keys) - len(found))
        return found

    def _add(self, client: redis.Redis, items: Mapping[str, Outcome]) -> None:
        # NX: an answer is a pure function of its key, so an existing entry is right
        pipe = client.pipeline(transaction=False)
        for key, outcome in items.items():
            ttl = self.llm_ttl_seconds if outcome.tier == "llm" else None
            px = max(1, int(ttl * 1000)) if ttl is not None else None
            pipe.set(self._vkey(key), encode(outcome), nx=True, px=px)
        written = sum(1 for ok in pipe.execute() if ok)
        self._add_counts(writes=written)

    def _clear(self, client: redis.Redis) -> int:
        removed = 0
        batch: list[bytes] = []
        for key in client.scan_iter(match=self._clear_match, count=1000):
            batch.append(key)
            if len(batch) >= 500:
                removed += int(client.unlink(*batch))
                batch = []
        if batch:
            removed += int(client.unlink(*batch))
        self._size = None
        return removed

    def _lease(self, client: redis.Redis, keys: list[str]) -> set[str]:
        px = max(1, int(self.lease_seconds * 1000))
        # MULTI/EXEC: a batch is leased whole or not at all against another replica's batch,
        # so two replicas meeting the same templates do not split them between them (each
        # would call the model on half and wait for the other half)
        pipe = client.pipeline(transaction=True)
        for key in keys:
            pipe.set(self._lkey(key), self._token, nx=True, px=px)
        pipe.mget([self._vkey(k) for k in keys])  # after the SETs: see verdicts just written
        *taken, values = pipe.execute()
        decoded = self._decode_all(client, keys, values)
        mine: set[str] = set()
        done: list[str] = []  # leased, but a verdict landed (written, released) in between
        for key, got, outcome in zip(keys, taken, decoded, strict=True):
            if got and outcome is None:
                mine.add(key)
            elif got:
                done.append(key)
        if done:  # not ours to classify: drop the lease; wait_for finds the verdict at once
            self._release(client, done)
        return mine

    def _poll(
        self, client: redis.Redis, keys: list[str]
    ) -> list[tuple[bool, Outcome | None]]:
        pipe = client.pipeline(transaction=False)
        pipe.mget([self._lkey(k) for k in keys])  # leases first: a holder writes, then
        pipe.mget([self._vkey(k) for k in keys])  # releases, so no verdict is missed
        leases, values = pipe.execute()
        decoded = self._decode_all(client, keys, values)
        return [(lease is not None, o) for lease, o in zip(leases, decoded, strict=True)]

    def _release(self, client: redis.Redis, keys: list[str]) -> int:
        return int(self._release_script(keys=[self._lkey(k) for k in keys], args=[self._token],
                                        client=client))  # fmt: skip
