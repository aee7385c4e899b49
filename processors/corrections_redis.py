"""Corrections shared by every replica through Redis (``LOGCLASS_REDIS_URL``).

Redis holds the set (one hash, field = the JSON ``[route, template]``, value = the JSON
``{label, created_at}``) and a version number bumped by every change. A change made on any
replica is written there first (a Redis that cannot take it refuses the change: 503, never
a correction only some replicas apply); each replica polls the version every
``poll_seconds`` from a background thread and adopts the new set, so a correction reaches
the whole fleet within about that time, and the event loop never waits on Redis. The local
file is then each replica's snapshot of the shared set; at first start on an empty Redis
the local file's corrections seed it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from processors.cache_redis import NAMESPACE
from processors.corrections import Correction, CorrectionError, CorrectionStore
from processors.redaction import redact_url

__all__ = ["SharedCorrections"]

log = logging.getLogger(__name__)


class SharedCorrections:
    """Keeps ``store`` in step with Redis; ``start()`` begins polling, ``close()`` stops."""

    def __init__(
        self,
        store: CorrectionStore,
        url: str,
        *,
        timeout: float = 0.25,
        poll_seconds: float = 0.5,
        namespace: str = NAMESPACE,
    ) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self._hash = f"{namespace}:corrections"
        self._version = f"{namespace}:corrections:version"
        self._seen: object = None  # the version last adopted
        self._secret = url
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0), retry_on_error=[], client_name="logclass-corrections",
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="logclass-corrections-sync", daemon=True
        )
        store.publish = self._publish
        store.shared_via = redact_url(url)
        store.reload_seconds = float("inf")  # Redis is the source now, not the file
        store.on_close.append(self.close)

    def start(self) -> SharedCorrections:
        self.sync()  # the first view before the first request, when Redis answers
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._client.close()

    def sync(self) -> None:
        """Adopt the shared set if it changed (seeding an empty Redis from the local file)."""
        try:
            version = self._client.get(self._version)
            if version is None and len(self.store):
                self._seed()
                version = self._client.get(self._version)
            if version != self._seen:
                self.store.adopt(_decode(self._client.hgetall(self._hash)))
                self._seen = version
            if self.store.last_error and self.store.last_error.startswith("redis:"):
                self.store.last_error = None
        except (redis.RedisError, OSError) as exc:
            self.store.last_error = f"redis: corrections not shared ({self._scrub(exc)})"

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.sync()

    def _seed(self) -> None:
        entries = {_field(c.route, c.template): _value(c) for c in self.store.all()}
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(self._hash, mapping=entries)  # type: ignore[arg-type]
            pipe.incr(self._version)
            pipe.execute()
        log.info("seeded the shared corrections with %d from the local file", len(entries))

    def _publish(self, key: tuple[str, str], correction: Correction | None) -> None:
        field = _field(*key)
        try:
            with self._client.pipeline(transaction=True) as pipe:
                if correction is None:
                    pipe.hdel(self._hash, field)
                else:
                    pipe.hset(self._hash, field, _value(correction))
                pipe.incr(self._version)
                pipe.execute()
        except (redis.RedisError, OSError) as exc:
            raise CorrectionError(
                f"Redis did not take the change, so no replica applies it: {self._scrub(exc)}"
            ) from None

    def _scrub(self, exc: Exception) -> str:
        return str(exc).replace(self._secret, redact_url(self._secret))


def _field(route: str, template: str) -> str:
    return json.dumps([route, template], ensure_ascii=False)


def _value(correction: Correction) -> str:
    return json.dumps({"label": correction.label, "created_at": correction.created_at})


def _decode(raw: Mapping[Any, Any]) -> list[Correction]:
    """The shared entries; one that does not decode is skipped, not served."""
    found = []
    for field, value in raw.items():
        try:
            route, template = json.loads(field)
            data = json.loads(value)
            found.append(Correction(str(route), str(template), str(data["label"]),
                                    str(data.get("created_at", ""))))
        except (ValueError, KeyError, TypeError):
            log.warning("skipped a shared correction that does not decode")
    return found
