"""The LLM tier: templates → labels over an OpenAI-compatible ``/chat/completions`` API.

Guarantees: ``decide`` returns one :class:`Decision` per template, in order, and never
raises. It sends masked templates only (the pipeline masks), each distinct template once
per call, up to ``batch_size`` per request; a template that may address the model
(``llm_prompt.needs_isolation``) goes alone, so it cannot steer its batch (counted in
``llm_isolated_templates``). A malformed or short batch answer, or a batch the server
refuses (400/413/422), is retried line by line. Transport faults are
the :class:`LlmClient`'s business (retries, deadline, breaker); a call that still fails
gives ``llm_unavailable``, and an open breaker gives it at once, without I/O. An answer
outside the label set is never trusted: ``llm_unparseable``, counted in
``llm_unparseable``. Neither is cacheable. No base URL: every line is ``llm_disabled``
(cacheable: the fingerprint changes when a base URL is set).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import httpx

from monitoring import MetricsRegistry
from processors.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from processors.llm_client import LlmCallFailed, LlmClient
from processors.llm_prompt import PROMPT_VERSION, build_request, needs_isolation, parse_answer
from processors.records import Decision
from processors.redaction import redact_httpx_logs, redact_url
from processors.taxonomy import Taxonomy

log = logging.getLogger(__name__)

# Cacheable: the fingerprint says whether the tier is on, so turning it on misses.
DISABLED = Decision(None, reason="llm_disabled")
UNAVAILABLE = Decision(None, reason="llm_unavailable", cacheable=False)
UNPARSEABLE = Decision(None, reason="llm_unparseable", cacheable=False)
_REFUSED_BATCH = (400, 413, 422)  # statuses that may be about the batch, not the lines


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
        self.breaker = CircuitBreaker(breaker_failures, breaker_cooldown, on_change=self._moved)
        self.client: LlmClient | None = None
        if self.base_url:
            redact_httpx_logs()  # a ?api-key= in the URL stays out of httpx's request log
            self.client = LlmClient(
                self.base_url,
                self.breaker,
                self.registry,
                api_key,
                max_concurrency=max_concurrency,
                timeout=timeout,
                connect_timeout=connect_timeout,
                deadline=deadline,
                max_retries=max_retries,
                backoff=backoff,
                transport=transport,
            )
        for state in (CLOSED, HALF_OPEN, OPEN):  # one series per state, 1 for the current one
            self.registry.gauge_callback(
                "llm_breaker_state", functools.partial(self._in_state, state), state=state
            )
        labels = ";".join(f"{lab.name}={lab.description}" for lab in taxonomy.labels)
        endpoint = base_url or "off"
        ident = "\x1f".join((endpoint, model, PROMPT_VERSION, labels, structured_output))
        self._fingerprint = hashlib.sha256(ident.encode()).hexdigest()[:16]

    @classmethod
    def from_settings(
        cls, settings: Any, taxonomy: Taxonomy, registry: MetricsRegistry | None = None
    ) -> LlmTier:
        """The tier ``app.settings.Settings`` (``LOGCLASS_LLM_*``) describes."""
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
        if self.client is None:
            return [DISABLED] * len(templates)
        unique = list(dict.fromkeys(templates))
        if self.breaker.state == OPEN and unique:  # fail fast; half-open lets a probe through
            self.registry.count("llm_breaker_rejected", len(unique))
            return [UNAVAILABLE] * len(templates)
        names = self.taxonomy.label_names
        alone = [t for t in unique if needs_isolation(t, names)]
        if alone:
            self.registry.count("llm_isolated_templates", len(alone))
        isolated = set(alone)
        batched = [t for t in unique if t not in isolated]
        size = self.batch_size
        chunks = [batched[i : i + size] for i in range(0, len(batched), size)]
        chunks += [[t] for t in alone]  # a possible injection steers its own label only
        try:
            answered = await asyncio.gather(*(self._decide_chunk(c) for c in chunks))
        except Exception:  # a bug here must not take the pipeline down
            log.exception("llm tier failed on %d templates", len(unique))
            return [UNAVAILABLE] * len(templates)
        by_template = {
            template: decision
            for chunk, decisions in zip(chunks, answered, strict=True)
            for template, decision in zip(chunk, decisions, strict=True)
        }
        return [by_template[t] for t in templates]

    async def _decide_chunk(self, chunk: list[str]) -> list[Decision]:
        assert self.client is not None
        body = build_request(self.model, self.taxonomy, chunk, self.mode)
        try:
            content = await self.client.complete(body)
        except LlmCallFailed as exc:
            if exc.status not in _REFUSED_BATCH or len(chunk) == 1:
                return [UNAVAILABLE] * len(chunk)
            labels = None  # the server refused the batch (schema, size): try line by line
        else:
            labels = parse_answer(content, self.taxonomy.label_names, len(chunk))
        if labels is None and len(chunk) > 1:  # malformed or short batch: one call per line
            self.registry.count("llm_batch_fallbacks")
            singles = await asyncio.gather(*(self._decide_chunk([t]) for t in chunk))
            return [decision for decisions in singles for decision in decisions]
        labels = labels or [None]
        self.registry.count("llm_unparseable", sum(label is None for label in labels))
        return [UNPARSEABLE if label is None else Decision(label) for label in labels]

    def _in_state(self, state: str) -> float:
        return float(self.breaker.state == state)

    def _moved(self, state: str) -> None:
        self.registry.count("llm_breaker_transitions", state=state)
        error = self.client.last_error if self.client else None
        log.warning("llm circuit breaker is now %s (last error: %s)", state, error)

    # -- health and lifecycle ------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Status ``ok`` | ``degraded`` (breaker not closed, or last call failed) | ``disabled``."""
        client, state = self.client, self.breaker.state
        if client is None:
            status = "disabled"
        elif state == CLOSED and client.last_call_ok:
            status = "ok"
        else:
            status = "degraded"
        return {
            "status": status,
            "configured": client is not None,
            "base_url": _redacted(self.base_url),
            "model": self.model,
            "structured_output": self.mode,
            "batch_size": self.batch_size,
            "breaker": state,
            "consecutive_failures": self.breaker.consecutive_failures,
            "last_error": client.last_error if client else None,
        }

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    @property
    def closed(self) -> bool:
        return self.client is None or self.client.closed


def _redacted(url: str | None) -> str | None:
    """``url`` without its password or ``?api-key=``-style parameters (health output is not
    a place for secrets)."""
    return None if url is None else redact_url(url)
