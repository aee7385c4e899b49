"""The HTTP side of the LLM tier: one pooled client, retries, deadline, circuit breaker.

:class:`LlmClient` sends a chat-completion body and returns the answer's text, or raises
:class:`LlmCallFailed`. Connection errors, timeouts, 429 (``Retry-After`` honoured,
delta-seconds or HTTP-date) and 5xx are retried with exponential backoff and jitter,
within ``max_retries`` and a per-call ``deadline`` (time on calls and back-off, not time
queued for a slot); a ``Retry-After`` past the deadline gives up at once. Those failures
feed the :class:`CircuitBreaker`; a refused request (other 4xx) is neither retried nor
counted against the server. At most ``max_concurrency`` requests are in flight, over as
many keep-alive connections; a call that gets no slot within ``queue_timeout`` fails
without touching the breaker (:class:`LlmQueueTimeout`, counted in ``llm_queue_timeouts``).
The API key goes in the ``Authorization`` header only.
"""

from __future__ import annotations

import asyncio
import random
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from monitoring import MetricsRegistry
from processors.breaker import OPEN, CircuitBreaker


class LlmCallFailed(Exception):
    """No answer: retries exhausted, deadline reached, breaker open, or request refused.

    ``status`` is the HTTP status of a request the server refused (4xx other than 429).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LlmQueueTimeout(LlmCallFailed):
    """No free slot in time: this process's own queue was too long; the server is not at fault."""


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LlmClient:
    def __init__(
        self,
        base_url: str,
        breaker: CircuitBreaker,
        registry: MetricsRegistry,
        api_key: str | None = None,
        *,
        max_concurrency: int = 4,
        timeout: float = 30.0,
        connect_timeout: float = 3.0,
        deadline: float = 60.0,
        max_retries: int = 2,
        backoff: float = 0.5,
        queue_timeout: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.breaker = breaker
        self.max_concurrency = max_concurrency
        self.queue_timeout = deadline if queue_timeout is None else queue_timeout
        self.registry = registry
        self.timeout = timeout
        self.deadline = deadline
        self.max_retries = max_retries
        self.backoff = backoff
        self.last_error: str | None = None
        self.last_call_ok = True
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            limits=httpx.Limits(
                max_connections=max_concurrency,
                max_keepalive_connections=max_concurrency,
                keepalive_expiry=60.0,
            ),
            transport=transport,
        )

    async def complete(self, body: dict[str, Any]) -> str:
        """POST ``/chat/completions``; the answer's text ("" for a 200 without one).

        The deadline counts time spent on calls and back-off only: waiting for one of the
        ``max_concurrency`` slots is this process's own queue, bounded by ``queue_timeout``,
        and running out of it (:class:`LlmQueueTimeout`) says nothing about the server, so
        it never feeds the breaker.
        """
        spent = 0.0
        attempt = 0
        while True:
            if self.breaker.state == OPEN:  # no point queueing for a slot
                raise LlmCallFailed("circuit breaker open")
            await self._take_slot()
            if not self.breaker.allow():
                self._semaphore.release()
                raise LlmCallFailed("circuit breaker open")
            started = time.perf_counter()
            try:
                budget = min(self.timeout, max(self.deadline - spent, 0.001))
                async with asyncio.timeout(budget):
                    response = await self._http.post("/chat/completions", json=body)
                content = _read(response)
            except _Retryable as exc:
                error, retry_after = str(exc), exc.retry_after
            except (httpx.TransportError, TimeoutError) as exc:
                error, retry_after = f"{type(exc).__name__}: {exc}".rstrip(": "), None
            except LlmCallFailed as exc:  # refused (400, 401, 404…): the server is up
                self._failed(str(exc), started, server_down=False)
                raise
            else:
                self.breaker.record_success()
                self.last_call_ok = True
                self.registry.observe("llm.call", time.perf_counter() - started)
                self.registry.count("llm_calls", outcome="ok")
                return content
            finally:
                self._semaphore.release()
                spent += time.perf_counter() - started
            self._failed(error, started)
            delay = max(self.backoff * 2**attempt * (0.5 + random.random()), retry_after or 0.0)
            attempt += 1
            if attempt > self.max_retries or spent + delay >= self.deadline:
                raise LlmCallFailed(error)
            self.registry.count("llm_retries")
            await asyncio.sleep(delay)
            spent += delay

    async def _take_slot(self) -> None:
        try:
            async with asyncio.timeout(self.queue_timeout):
                await self._semaphore.acquire()
        except TimeoutError:
            self.registry.count("llm_queue_timeouts")
            raise LlmQueueTimeout(
                f"no free LLM slot within {self.queue_timeout:g} s "
                f"({self.max_concurrency} calls in flight)"
            ) from None

    def _failed(self, error: str, started: float, server_down: bool = True) -> None:
        self.last_error = error
        self.last_call_ok = False
        if server_down:  # only unavailability opens the breaker, not a refused request
            self.breaker.record_failure()
        self.registry.observe("llm.call", time.perf_counter() - started, error=True)
        self.registry.count("llm_calls", outcome="error")

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def closed(self) -> bool:
        return self._http.is_closed


def _read(response: httpx.Response) -> str:
    status = response.status_code
    if status == 429 or status >= 500:
        raise _Retryable(f"HTTP {status}", retry_after(response.headers.get("retry-after")))
    if status >= 400:
        raise LlmCallFailed(f"HTTP {status}: {response.text[:200]}", status)
    try:
        return str(response.json()["choices"][0]["message"]["content"] or "")
    except (ValueError, KeyError, IndexError, TypeError):
        return ""  # a 200 without a chat completion in it: read as an unparseable answer


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), else None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
