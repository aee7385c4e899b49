"""Sends enriched batches downstream: an HTTP endpoint over one pooled client, or stdout.

``send`` returns only once the target accepted the batch (2xx), so the caller can answer
its shipper 2xx and get at-least-once delivery. Transient faults (connection refused,
timeouts, 408/429/5xx) are retried with backoff and end in :class:`ForwardUnavailable`;
a permanent refusal (other 4xx, 3xx) ends in :class:`ForwardRejected` at once. A 2xx that
says some records were refused (OTLP ``partial_success``, Elasticsearch ``_bulk`` item
errors) is not success: :class:`ForwardPartial`, or a transient fault when every refused
item may pass on retry (429/5xx items). A 413 splits the batch in halves, sent in order.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

import httpx

from app.sidecar.events import EventFields
from app.sidecar.refusals import TRANSIENT, refusals
from app.sidecar.render import Enriched, ForwardFormat, events_of, halves, ndjson, render
from monitoring import MetricsRegistry
from processors.redaction import redact_httpx_logs, redact_url

__all__ = ["Forwarder", "ForwardUnavailable", "ForwardRejected", "ForwardPartial", "STDOUT"]

log = logging.getLogger(__name__)
STDOUT = "stdout"
_MAX_DOWNSTREAM_RETRY_AFTER = 5.0


class ForwardUnavailable(Exception):
    """The target is down, slow or overloaded; the shipper should retry (503)."""


class ForwardRejected(Exception):
    """The target refused the batch for good (a 4xx other than 408/429); retrying won't help."""


class ForwardPartial(ForwardRejected):
    """The target took the batch but refused ``rejected`` of its ``total`` records for good."""

    def __init__(self, rejected: int, total: int, why: str) -> None:
        super().__init__(f"forward target refused {rejected} of {total} events: {why}")
        self.rejected = rejected


class _TooLarge(ForwardRejected):
    """413: the enriched batch is over the target's size limit."""


class Forwarder:
    """Where enriched batches go; ``enabled`` is False when ``LOGCLASS_FORWARD_URL`` is unset.

    Open it in the lifespan (``from_settings``) and close it there (``aclose``); one
    instance is shared by all requests and is safe to use concurrently.
    """

    def __init__(
        self,
        target: str | None,
        fields: EventFields,
        fmt: ForwardFormat = "same",
        *,
        timeout: float = 3.0,
        retries: int = 2,
        backoff: float = 0.2,
        max_connections: int = 8,
        registry: MetricsRegistry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        stdout: IO[bytes] | None = None,
    ) -> None:
        self.target = target or None
        self.fields = fields
        self.format: ForwardFormat = fmt
        self.retries = retries
        self.backoff = backoff
        self.registry = registry or MetricsRegistry()
        self._stdout = stdout
        self._stdout_lock = threading.Lock()  # held by the writing thread, even if cancelled
        # Its own single thread: a stdout nobody reads blocks here, never in the loop's
        # default executor, where the pipeline writes its cache. Writes queue behind it in
        # order; a request that gives up (deadline) withdraws its write if it has not begun.
        self._stdout_writer: ThreadPoolExecutor | None = None
        if self.target == STDOUT:
            self._stdout_writer = ThreadPoolExecutor(1, thread_name_prefix="logclass-stdout")
        self._client: httpx.AsyncClient | None = None
        if self.target and self.target != STDOUT:
            _check_url(self.target)
            redact_httpx_logs()  # httpx logs each request's URL, credentials included
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(timeout),
                limits=httpx.Limits(
                    max_connections=max_connections, max_keepalive_connections=max_connections
                ),
                transport=transport,
                headers={"User-Agent": "logclass-sidecar"},
            )

    @classmethod
    def from_settings(
        cls, settings: Any, registry: MetricsRegistry | None = None, **kwargs: Any
    ) -> Forwarder:
        return cls(
            settings.forward_url,
            EventFields.from_settings(settings),
            settings.forward_format,
            timeout=settings.forward_timeout_seconds,
            retries=settings.forward_retries,
            backoff=settings.forward_retry_backoff_seconds,
            max_connections=settings.forward_max_connections,
            registry=registry,
            **kwargs,
        )

    @property
    def enabled(self) -> bool:
        return self.target is not None

    async def send(self, batch: Enriched) -> None:
        """Delivers ``batch``; returns once accepted, else raises one of the errors above."""
        if self.target is None:
            return
        started = time.perf_counter()
        failed = True
        try:
            if self.target == STDOUT:
                await self._write_stdout(ndjson(events_of(batch, self.fields)))
            else:
                rejected, why = await self._deliver(batch)
                if rejected:
                    raise ForwardPartial(rejected, batch.count(), why)
            failed = False
        finally:
            self.registry.observe("sidecar.forward", time.perf_counter() - started, failed)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._stdout_writer is not None:  # a write stuck on a dead reader is not awaited
            self._stdout_writer.shutdown(wait=False, cancel_futures=True)

    async def _deliver(self, batch: Enriched) -> tuple[int, str]:
        """``(records refused, why)``; after a 413 each half is delivered, first one first,
        and an event too large on its own is counted as refused (the rest still goes)."""
        body, content_type = render(batch, self.format, self.fields)
        try:
            return await self._post(body, content_type)
        except _TooLarge as exc:
            parts = halves(batch)
            if parts is None:
                return batch.count(), str(exc)
        rejected, why = 0, ""
        for part in parts:
            refused, reason = await self._deliver(part)
            rejected, why = rejected + refused, why or reason
        return rejected, why

    async def _post(self, body: bytes, content_type: str) -> tuple[int, str]:
        assert self._client is not None and self.target is not None
        headers = {"Content-Type": content_type}
        problem, delay = "", 0.0
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(delay)
            delay = self.backoff * 2**attempt
            try:
                response = await self._client.post(self.target, content=body, headers=headers)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                continue
            if response.is_success:
                refused, transient, why = refusals(response)
                if not transient:
                    return refused, why
                problem = f"{refused} items refused for now ({why})"
                continue
            problem = f"HTTP {response.status_code}"
            if response.status_code == 413:
                raise _TooLarge(f"forward target answered 413: {response.text[:200]}")
            if response.status_code not in TRANSIENT:
                raise ForwardRejected(
                    f"forward target answered {response.status_code}: {response.text[:200]}"
                )
            delay = max(delay, _retry_after(response))
        self.registry.count("sidecar_forward_unavailable")
        shown = redact_url(self.target)  # credentials and ?api-key= stay out of the log
        log.warning("forward to %s failed after %d attempts: %s", shown, attempt + 1, problem)
        raise ForwardUnavailable(f"forward target unavailable ({problem})")

    async def _write_stdout(self, data: bytes) -> None:
        try:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._stdout_writer, self._write_flush, data)
        except OSError as exc:  # a closed pipe: whoever reads stdout is gone
            raise ForwardUnavailable(f"cannot write to stdout: {exc}") from exc

    def _write_flush(self, data: bytes) -> None:
        stream = self._stdout or sys.stdout.buffer
        with self._stdout_lock:  # whole batches, never interleaved
            stream.write(data)
            stream.flush()


def _check_url(target: str) -> None:
    """A bad LOGCLASS_FORWARD_URL stops start-up, instead of a 503 on every batch; the
    message shows the URL without its secrets."""
    shown = redact_url(target)
    try:
        url = httpx.URL(target)
    except httpx.InvalidURL as exc:
        raise ValueError(f"LOGCLASS_FORWARD_URL {shown!r} is not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"LOGCLASS_FORWARD_URL {shown!r} must be an http(s) URL with a host, or 'stdout'"
        )


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(float(response.headers.get("Retry-After", 0)), _MAX_DOWNSTREAM_RETRY_AFTER)
    except ValueError:  # an HTTP date: fall back to our own backoff
        return 0.0
