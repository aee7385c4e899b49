"""The tiered classifier: regex on the raw line, then cached model tiers on templates.

Guarantees: one verdict per record, in input order; ``classify`` never raises because of
a tier (a failing tier leaves its lines undecided with a reason); each distinct
``(route, template)`` is classified once per batch and once across concurrent calls.
A caller that is cancelled while computing a shared template passes the work on: the
callers waiting for it compute it themselves and get a real answer, never ``cancelled``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from monitoring import MetricsRegistry
from processors.records import UNCLASSIFIED, Decision, LogRecord, Outcome, Tier, Verdict
from processors.regex import RegexTier
from processors.taxonomy import REGEX_TIER, Taxonomy
from processors.templates import mask

log = logging.getLogger(__name__)


class VerdictCache(Protocol):
    """The template cache as the pipeline sees it (see ``processors.cache``)."""

    def get_many(self, keys: Sequence[str]) -> dict[str, Outcome]: ...

    def set_many(self, items: Mapping[str, Outcome]) -> None: ...


class Classifier:
    """Classifies batches of :class:`LogRecord`; usable as a library without HTTP."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        tiers: Mapping[str, Tier] | None = None,
        cache: VerdictCache | None = None,
        registry: MetricsRegistry | None = None,
        max_line_chars: int = 8_192,
    ) -> None:
        self.taxonomy = taxonomy
        self.regex = RegexTier(taxonomy.rules_on("line"))
        self.template_rules = RegexTier(taxonomy.rules_on("template"))
        self.tiers: dict[str, Tier] = dict(tiers or {})
        self.cache = cache
        self.registry = registry or MetricsRegistry()
        self.max_line_chars = max_line_chars
        self._inflight: dict[str, asyncio.Future[Outcome]] = {}
        # Its own thread (started on first use): sqlite takes one writer at a time anyway.
        self._cache_writer = ThreadPoolExecutor(1, thread_name_prefix="logclass-cache-write")
        self._route_fingerprints = {
            route: self._fingerprint(route_tiers) for route, route_tiers in taxonomy.routes.items()
        }

    @classmethod
    def from_settings(cls, settings: Any, registry: MetricsRegistry | None = None) -> Classifier:
        """Build the classifier a deployment describes (``app.settings.Settings`` or alike).

        Cheap: the embedding model loads on first use (or in :meth:`start` with warm-up).
        """
        from processors.bert import BertTier
        from processors.cache import TemplateCache
        from processors.llm import LlmTier

        registry = registry or MetricsRegistry()
        taxonomy = Taxonomy.load(settings.taxonomy)
        tiers: dict[str, Tier] = {
            "bert": BertTier.from_settings(settings, registry, taxonomy.label_names),
            "llm": LlmTier.from_settings(settings, taxonomy, registry),
        }
        cache = TemplateCache.from_settings(settings, registry)
        return cls(taxonomy, tiers, cache, registry, max_line_chars=settings.max_line_chars)

    # -- the hot path -------------------------------------------------------------------

    async def classify(self, records: Sequence[LogRecord]) -> list[Verdict]:
        started = time.perf_counter()
        prepared = self.match_rules(records)
        pending = prepared.pending
        outcomes = await self.decide_templates(list(pending)) if pending else {}
        verdicts = prepared.verdicts
        lines_by_tier: Counter[str] = Counter({REGEX_TIER: prepared.regex_lines})
        cached_lines = 0
        for key, indexes in pending.items():
            outcome, cached = outcomes[key]
            lines_by_tier[outcome.tier] += len(indexes)
            cached_lines += len(indexes) if cached else 0
            for i in indexes:
                verdicts[i] = to_verdict(outcome, cached, key[1], i in prepared.truncated)
        self._report(len(records), lines_by_tier, cached_lines, time.perf_counter() - started)
        return verdicts  # type: ignore[return-value]  # every slot was filled above

    def match_rules(self, records: Sequence[LogRecord]) -> Prepared:
        """Fill in regex (and empty-line) verdicts; group the rest by ``(route, template)``.

        With :meth:`decide_templates` and :func:`to_verdict` this is :meth:`classify` in
        parts, for callers that spread the parts over processes (``logclass backfill``).
        """
        verdicts: list[Verdict | None] = [None] * len(records)
        pending: dict[tuple[str, str], list[int]] = {}
        truncated: set[int] = set()
        seen: dict[tuple[str, str], tuple[str | None, str]] = {}  # exact repeats in the batch
        regex_lines = 0
        for i, record in enumerate(records):
            message = record.message
            if len(message) > self.max_line_chars:
                message = message[: self.max_line_chars]
                truncated.add(i)
            if not message.strip():  # nothing to classify; no model should guess
                verdicts[i] = Verdict(UNCLASSIFIED, None, "none", False, message, "empty_line")
                continue
            route = self.taxonomy.route_for(record.source)
            known = seen.get((route, message))
            if known is None:
                uses_regex = self.taxonomy.routes[route][:1] == (REGEX_TIER,)
                label = self.regex.match(message) if uses_regex else None
                known = seen[(route, message)] = (label, mask(message))
            label, template = known
            if label is not None:
                reason = "truncated" if i in truncated else None
                verdicts[i] = Verdict(label, 1.0, REGEX_TIER, False, template, reason)
                regex_lines += 1
            else:
                pending.setdefault((route, template), []).append(i)
        return Prepared(verdicts, pending, truncated, regex_lines)

    def _report(self, lines: int, by_tier: Counter[str], cached: int, seconds: float) -> None:
        """Line counts (not templates) per deciding tier, so operators see real traffic."""
        self.registry.count("lines_classified", lines)
        empty = lines - sum(by_tier.values())  # empty lines end 'none' without a tier
        by_tier["none"] += empty
        for tier, count in by_tier.items():
            if count:
                self.registry.count("lines_decided", count, tier=tier)
        if cached:
            self.registry.count("lines_decided_cached", cached)
        self.registry.observe("pipeline.classify", seconds)

    async def decide_templates(
        self, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[Outcome, bool]]:
        """``(outcome, cached)`` per distinct ``(route, template)``: cache, then in-flight
        sharing, then the model tiers."""
        cache_keys = {key: self._cache_key(*key) for key in keys}
        hits = self.cache.get_many(list(cache_keys.values())) if self.cache is not None else {}
        result = {key: (hits[ckey], True) for key, ckey in cache_keys.items() if ckey in hits}
        todo = [key for key in keys if key not in result]
        while todo:  # more than once only when the request computing a shared key went away
            waiting: dict[tuple[str, str], asyncio.Future[Outcome]] = {}
            mine: dict[tuple[str, str], asyncio.Future[Outcome]] = {}
            for key in todo:
                ckey = cache_keys[key]
                if ckey in self._inflight:
                    waiting[key] = self._inflight[ckey]
                else:
                    mine[key] = self._inflight[ckey] = asyncio.get_running_loop().create_future()
            if mine:
                for key, outcome in (await self._compute(mine, cache_keys)).items():
                    result[key] = (outcome, False)
            todo = []
            for key, future in waiting.items():
                outcome = await asyncio.shield(future)
                if outcome is _ABANDONED:  # its owner was cancelled: compute it here
                    todo.append(key)
                else:
                    result[key] = (outcome, False)
        return result

    async def _compute(
        self,
        mine: dict[tuple[str, str], asyncio.Future[Outcome]],
        cache_keys: dict[tuple[str, str], str],
    ) -> dict[tuple[str, str], Outcome]:
        """Run the tiers for the keys this request owns and share the outcomes.

        Cancelled mid-way (client gone, shutdown timeout), it tells the requests sharing
        these keys that nobody computes them any more, and each of those computes them
        itself: a cancelled request never hands its ``cancelled`` to another.
        """
        try:
            computed = await self._run_tiers(list(mine))
            for key, outcome in computed.items():
                mine[key].set_result(outcome)  # the sharers need not wait for the disk
            fresh = {cache_keys[k]: o for k, o in computed.items() if o.cacheable}
            if self.cache is not None and fresh:
                await self._write_cache(fresh)
            return computed
        finally:
            for key, future in mine.items():
                if self._inflight.get(cache_keys[key]) is future:
                    del self._inflight[cache_keys[key]]
                if not future.done():
                    future.set_result(_ABANDONED)

    async def _write_cache(self, fresh: dict[str, Outcome]) -> None:
        """Disk writes run on the cache's own thread, never behind the default executor
        (stdout forwarding uses that one: a blocked pipe must not stall cache misses)."""
        assert self.cache is not None
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._cache_writer, self.cache.set_many, fresh)
        except RuntimeError:  # the executor was shut down (closing): skip, it is a cache
            log.debug("cache write of %d outcomes skipped: closing", len(fresh))

    async def _run_tiers(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Outcome]:
        by_route: dict[str, list[str]] = {}
        for route, template in keys:
            by_route.setdefault(route, []).append(template)
        routed = await asyncio.gather(
            *(self._run_route(route, templates) for route, templates in by_route.items())
        )
        return {
            (route, template): outcome
            for (route, templates), outcomes in zip(by_route.items(), routed, strict=True)
            for template, outcome in zip(templates, outcomes, strict=True)
        }

    async def _run_route(self, route: str, templates: list[str]) -> list[Outcome]:
        """Each model tier of the route sees only what earlier tiers left undecided."""
        outcomes: list[Outcome | None] = [None] * len(templates)
        reasons: list[str] = ["no_model_tier"] * len(templates)
        cacheable = [True] * len(templates)
        undecided = list(range(len(templates)))
        if self.taxonomy.routes[route][:1] == (REGEX_TIER,) and len(self.template_rules):
            undecided = self._match_template_rules(templates, outcomes)
        for name in self.taxonomy.routes[route]:
            if name == REGEX_TIER or not undecided:
                continue
            decisions = await self._call_tier(name, [templates[i] for i in undecided])
            still: list[int] = []
            for i, decision in zip(undecided, decisions, strict=True):
                cacheable[i] = cacheable[i] and decision.cacheable
                if decision.label is None:
                    reasons[i] = decision.reason or f"{name}_undecided"
                    still.append(i)
                else:
                    outcomes[i] = Outcome(
                        decision.label, decision.confidence, name, decision.reason, cacheable[i]
                    )
            self.registry.count("templates_decided", len(undecided) - len(still), tier=name)
            undecided = still
        for i in undecided:
            outcomes[i] = _undecided(reasons[i], cacheable[i])
        self.registry.count("templates_decided", len(undecided), tier="none")
        return outcomes  # type: ignore[return-value]

    def _match_template_rules(self, templates: list[str], outcomes: list[Outcome | None]
                              ) -> list[int]:
        """Decide by the ``match: template`` rules; the indexes they leave undecided."""
        undecided = []
        for i, template in enumerate(templates):
            label = self.template_rules.match(template)
            if label is None:
                undecided.append(i)
            else:
                outcomes[i] = Outcome(label, 1.0, REGEX_TIER, None)
        if len(undecided) < len(templates):
            self.registry.count("templates_decided", len(templates) - len(undecided),
                                tier=REGEX_TIER)
        return undecided

    async def _call_tier(self, name: str, templates: list[str]) -> list[Decision]:
        tier = self.tiers.get(name)
        if tier is None:
            return [Decision(None, reason=f"{name}_unavailable", cacheable=False)] * len(templates)
        started = time.perf_counter()
        try:
            decisions = await tier.decide(templates)
            if len(decisions) != len(templates):
                raise RuntimeError(f"{name}: {len(decisions)} decisions for {len(templates)} lines")
        except Exception:
            log.exception("tier %s failed on a batch of %d templates", name, len(templates))
            self.registry.observe("tier.decide", time.perf_counter() - started, True, tier=name)
            return [Decision(None, reason=f"{name}_error", cacheable=False)] * len(templates)
        self.registry.observe("tier.decide", time.perf_counter() - started, tier=name)
        return decisions

    # -- keys, health, lifecycle --------------------------------------------------------

    def _fingerprint(self, route_tiers: Sequence[str]) -> str:
        parts = [self.taxonomy.fingerprint]
        for name in route_tiers:
            tier = self.tiers.get(name)
            if name != REGEX_TIER:
                parts.append(f"{name}={tier.fingerprint if tier else 'off'}")
        return "|".join(parts)

    def _cache_key(self, route: str, template: str) -> str:
        return f"{self._route_fingerprints[route]}\x1f{route}\x1f{template}"

    def health(self) -> dict[str, Any]:
        components: dict[str, Any] = {"regex": self.regex.health()}
        for name, tier in self.tiers.items():
            components[name] = tier.health()
        cache_health = getattr(self.cache, "health", None)
        components["cache"] = cache_health() if cache_health else {"status": "disabled"}
        return components

    async def start(self) -> None:
        """Warm up what asks for it (e.g. ``LOGCLASS_BERT_WARMUP``); called by the lifespan."""
        for tier in self.tiers.values():
            start = getattr(tier, "start", None)
            if start is not None:
                await start()

    async def aclose(self) -> None:
        self._cache_writer.shutdown(wait=False, cancel_futures=True)
        for tier in self.tiers.values():
            await tier.aclose()
        close_cache = getattr(self.cache, "close", None)
        if close_cache is not None:
            close_cache()


@dataclass(slots=True)
class Prepared:
    """:meth:`Classifier.match_rules`' result: verdicts decided by rules (``None`` where a
    model tier must decide), those lines' indexes by ``(route, template)``, the indexes of
    truncated lines, and how many lines the regex rules decided."""

    verdicts: list[Verdict | None]
    pending: dict[tuple[str, str], list[int]]
    truncated: set[int]
    regex_lines: int


def to_verdict(outcome: Outcome, cached: bool, template: str, truncated: bool) -> Verdict:
    """A line's verdict from its template's outcome; a truncated line says so unless the
    outcome has a reason of its own."""
    reason = outcome.reason
    if reason is None and truncated:
        reason = "truncated"
    return Verdict(outcome.label, outcome.confidence, outcome.tier, cached, template, reason)


def _undecided(reason: str, cacheable: bool = True) -> Outcome:
    return Outcome(UNCLASSIFIED, None, "none", reason, cacheable)


_ABANDONED = _undecided("cancelled", cacheable=False)  # by identity: "compute it yourself"
