"""The LLM tier: templates → labels over an OpenAI-compatible ``/chat/completions`` API.

Guarantees: ``decide`` returns one :class:`Decision` per template, in order, and never
raises; it sends masked templates only, each distinct template once per call, up to
``batch_size`` per request and ``max_concurrency`` requests at a time over one pooled
keep-alive ``httpx.AsyncClient``. Connection errors, timeouts, 429 (``Retry-After``
honoured) and 5xx are retried with exponential backoff and jitter within ``max_retries``
and ``deadline``; a :class:`CircuitBreaker` turns a dead server into an immediate
``llm_unavailable`` (not cacheable). An answer outside the label set is never trusted:
``llm_unparseable`` (not cacheable), counted in ``llm_unparseable``. The API key is a
``SecretStr`` sent only as ``Authorization: Bearer`` and never logged or reported.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from monitoring import MetricsRegistry
from processors.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from processors.llm_prompt import PROMPT_VERSION, build_request, parse_answer
from processors.records import Decision
from processors.taxonomy import Taxonomy

log = logging.getLogger(__name__)

DISABLED = Decision(None, reason="llm_disabled", cacheable=False)
UNAVAILABLE = Decision(None, reason="llm_unavailable", cacheable=False)
UNPARSEABLE = Decision(None, reason="llm_unparseable", cacheable=False)


class LlmCallFailed(Exception):
    """A call that could not get an answer (after retries, or refused by the breaker)."""


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LlmTier:
    name = "llm"

    def __init__(
        self,
        taxonomy: Taxonomy,
        base_url: str | None,
        model: str,
        api_key: str | None = None,
        structured_output: str = "json_schema",
        registry: MetricsRegistry | None = None,
        *,
        batch_size: int = 20,
        max_concurrency: int = 4,
        timeout: float = 30.0,
        connect_timeout: float = 3.0,
        deadline: float = 60.0,
        max_retries: int = 2,
        backoff: float = 0.5,
        breaker_failures: int = 5,
        breaker_cooldown: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.base_url = base_url.rstrip("/") if base_url else None
        self.model = model
        self.mode = structured_output
        self.registry = registry or MetricsRegistry()
        self.batch_size = batch_size
        self.timeout = timeout
        self.deadline = deadline
        self.max_retries = max_retries
        self.backoff = backoff
        self.breaker = CircuitBreaker(breaker_failures, breaker_cooldown, on_change=self._moved)
        self.last_error: str | None = None
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._client: httpx.AsyncClient | None = None
        if self.base_url:
            headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=headers,
                timeout=httpx.Timeout(timeout, connect=connect_timeout),
                limits=httpx.Limits(
                    max_connections=max_concurrency,
                    max_keepalive_connections=max_concurrency,
                    keepalive_expiry=60.0,
                ),
                transport=transport,
            )
        for state in (CLOSED, HALF_OPEN, OPEN):  # one series per state, 1 for the current one
            self.registry.gauge_callback(
                "llm_breaker_state", lambda s=state: float(self.breaker.state == s), state=state
            )
        labels = ";".join(f"{lab.name}={lab.description}" for lab in taxonomy.labels)
        ident = "\x1f".join((model, PROMPT_VERSION, labels, structured_output))
        self._fingerprint = hashlib.sha256(ident.encode()).hexdigest()[:16]

    @classmethod
    def from_settings(
        cls, settings: Any, taxonomy: Taxonomy, registry: MetricsRegistry | None = None
    ) -> LlmTier:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return cls(
            taxonomy,
            settings.llm_base_url,
            settings.llm_model,
            key,
            settings.llm_structured_output,
            registry,
            batch_size=settings.llm_batch_size,
            max_concurrency=settings.llm_max_concurrency,
            timeout=settings.llm_timeout_seconds,
            connect_timeout=settings.llm_connect_timeout_seconds,
            deadline=settings.llm_deadline_seconds,
            max_retries=settings.llm_max_retries,
            backoff=settings.llm_retry_backoff_seconds,
            breaker_failures=settings.llm_breaker_failures,
            breaker_cooldown=settings.llm_breaker_cooldown_seconds,
        )

    @property
    def fingerprint(self) -> str:
        """Hash of model, prompt version, label set (with descriptions) and output mode."""
        return self._fingerprint

    # -- deciding ------------------------------------------------------------------------

    async def decide(self, templates: Sequence[str]) -> list[Decision]:
        if self._client is None:
            return [DISABLED] * len(templates)
        unique = list(dict.fromkeys(templates))
        if self.breaker.state == OPEN and unique:  # fail fast; half-open lets a probe through
            self.registry.count("llm_breaker_rejected", len(unique))
            return [UNAVAILABLE] * len(templates)
        chunks = [unique[i : i + self.batch_size] for i in range(0, len(unique), self.batch_size)]
        try:
            answered = await asyncio.gather(*(self._decide_chunk(c) for c in chunks))
        except Exception:  # a bug here must not take the pipeline down
            log.exception("llm tier failed on %d templates", len(unique))
            return [UNAVAILABLE] * len(templates)
        by_template = {
            t: d
            for chunk, ds in zip(chunks, answered, strict=True)
            for t, d in zip(chunk, ds, strict=True)
        }
        return [by_template[t] for t in templates]

    async def _decide_chunk(self, chunk: list[str]) -> list[Decision]:
        try:
            labels = await self._ask(chunk)
        except LlmCallFailed:
            return [UNAVAILABLE] * len(chunk)
        if labels is None and len(chunk) > 1:  # malformed or short batch: one call per line
            self.registry.count("llm_batch_fallbacks")
            return [
                d
                for ds in await asyncio.gather(*(self._decide_chunk([t]) for t in chunk))
                for d in ds
            ]
        labels = labels or [None]
        decisions = [UNPARSEABLE if label is None else Decision(label) for label in labels]
        self.registry.count("llm_unparseable", sum(label is None for label in labels))
        return decisions

    async def _ask(self, templates: list[str]) -> list[str | None] | None:
        """One logical call; the parsed answer (see ``parse_answer``) or LlmCallFailed."""
        body = build_request(self.model, self.taxonomy, templates, self.mode)
        content = await self._post(body)
        return parse_answer(content, self.taxonomy.label_names, len(templates))

    async def _post(self, body: dict[str, Any]) -> str:
        """POST with retries, backoff, deadline and breaker; the answer's text content."""
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.deadline
        attempt = 0
        while True:
            if not self.breaker.allow():
                raise LlmCallFailed("circuit breaker open")
            started = time.perf_counter()
            try:
                async with self._semaphore:
                    remaining = give_up_at - loop.time()
                    async with asyncio.timeout(min(self.timeout, max(remaining, 0.001))):
                        response = await self._client.post("/chat/completions", json=body)  # type: ignore[union-attr]
                content = self._read(response)
            except _Retryable as exc:
                error, retry_after = str(exc), exc.retry_after
            except (httpx.TransportError, TimeoutError) as exc:
                error, retry_after = f"{type(exc).__name__}: {exc}".rstrip(": "), None
            except LlmCallFailed as exc:  # not worth retrying (400, 401, 404…)
                self._failed(str(exc), started)
                raise
            else:
                self.breaker.record_success()
                self.registry.observe("llm.call", time.perf_counter() - started)
                self.registry.count("llm_calls", outcome="ok")
                return content
            self._failed(error, started)
            delay = self.backoff * 2**attempt * (0.5 + random.random())
            delay = max(delay, retry_after or 0.0)
            attempt += 1
            if attempt > self.max_retries or loop.time() + delay >= give_up_at:
                raise LlmCallFailed(error)
            self.registry.count("llm_retries")
            await asyncio.sleep(delay)

    def _read(self, response: httpx.Response) -> str:
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}", _retry_after(response.headers.get("retry-after")))
        if status >= 400:
            raise LlmCallFailed(f"HTTP {status}: {response.text[:200]}")
        try:
            return str(response.json()["choices"][0]["message"]["content"] or "")
        except (ValueError, KeyError, IndexError, TypeError):
            return ""  # a 200 without a chat completion in it: read as an unparseable answer

    def _failed(self, error: str, started: float) -> None:
        self.last_error = error
        self.breaker.record_failure()
        self.registry.observe("llm.call", time.perf_counter() - started, error=True)
        self.registry.count("llm_calls", outcome="error")

    def _moved(self, state: str) -> None:
        self.registry.count("llm_breaker_transitions", state=state)
        log.warning("llm circuit breaker is now %s (last error: %s)", state, self.last_error)

    # -- health and lifecycle ------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        configured = self._client is not None
        state = self.breaker.state
        if not configured:
            status = "disabled"
        elif state == "closed":
            status = "ok"
        else:
            status = "degraded"
        return {
            "status": status,
            "configured": configured,
            "base_url": _redacted(self.base_url),
            "model": self.model,
            "structured_output": self.mode,
            "breaker": state,
            "consecutive_failures": self.breaker.consecutive_failures,
            "last_error": self.last_error,
        }

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    @property
    def closed(self) -> bool:
        return self._client is None or self._client.is_closed


def _redacted(url: str | None) -> str | None:
    """``url`` without any password in it (health output is not a place for secrets)."""
    if url is None:
        return None
    parsed = httpx.URL(url)
    return str(parsed.copy_with(password="***")) if parsed.password else url


def _retry_after(value: str | None) -> float | None:
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
