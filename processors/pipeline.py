"""The tiered classifier: regex on the raw line, then cached model tiers on templates.

Guarantees: one verdict per record, in input order; ``classify`` never raises because of
a tier (a failing tier leaves its lines undecided with a reason); each distinct
``(route, template)`` is classified once per batch and once across concurrent calls.
A caller that is cancelled while computing a shared template passes the work on: the
callers waiting for it compute it themselves and get a real answer, never ``cancelled``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from monitoring import MetricsRegistry
from processors.cache_access import CacheAccess, VerdictCache
from processors.corrections import CorrectionStore
from processors.records import UNCLASSIFIED, LogRecord, Outcome, Tier, Verdict
from processors.regex import RegexTier
from processors.taxonomy import REGEX_TIER, Taxonomy
from processors.template_stats import TemplateStats
from processors.templates import mask
from processors.tier_chain import OFF_LOOP_CHARS, TierChain

OVERRIDE_TIER = "override"  # an operator's correction decided


class Classifier:
    """Classifies batches of :class:`LogRecord`; usable as a library without HTTP."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        tiers: Mapping[str, Tier] | None = None,
        cache: VerdictCache | None = None,
        registry: MetricsRegistry | None = None,
        max_line_chars: int = 8_192,
        corrections: CorrectionStore | None = None,
        template_stats: TemplateStats | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.regex = RegexTier(taxonomy.rules_on("line"))
        self.tiers: dict[str, Tier] = dict(tiers or {})
        self.cache = cache
        self.registry = registry or MetricsRegistry()
        self.max_line_chars = max_line_chars
        self.corrections = corrections
        self.template_stats = template_stats if template_stats is not None else TemplateStats()
        self._inflight: dict[str, asyncio.Future[Outcome]] = {}
        # Lookups that may touch the disk or Redis, leases, and masking of big batches:
        # off the event loop, so health and small requests keep answering.
        self._workers = ThreadPoolExecutor(2, thread_name_prefix="logclass-pipeline")
        self._cache = CacheAccess(cache, self._workers, self.registry)
        self.chain = TierChain(taxonomy, self.tiers, self.registry, self._workers)
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
        corrections = CorrectionStore(
            settings.corrections_path or settings.cache_dir / "corrections.yaml",
            taxonomy.label_names,
        )
        if settings.redis_url is not None:  # every replica applies the same corrections
            from processors.corrections_redis import SharedCorrections

            url = settings.redis_url.get_secret_value()
            SharedCorrections(corrections, url, timeout=settings.redis_timeout_seconds).start()
        stats = TemplateStats(settings.templates_top_k)
        return cls(
            taxonomy, tiers, cache, registry, max_line_chars=settings.max_line_chars,
            corrections=corrections, template_stats=stats,
        )

    # -- the hot path -------------------------------------------------------------------

    async def classify(self, records: Sequence[LogRecord]) -> list[Verdict]:
        started = time.perf_counter()
        if sum(len(r.message) for r in records) > OFF_LOOP_CHARS:  # ~0.2 µs a character
            loop = asyncio.get_running_loop()
            prepared = await loop.run_in_executor(self._workers, self.match_rules, records)
        else:
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
        self.template_stats.record(
            [(key, len(indexes), outcomes[key][0]) for key, indexes in pending.items()]
            + [(key, n, Outcome(label, 1.0, REGEX_TIER, None))
               for key, (label, n) in prepared.regex_templates.items()]
        )
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
        regex_templates: dict[tuple[str, str], list[Any]] = {}  # key -> [label, lines]
        regex_lines = 0
        corrected = self.corrections
        if corrected is not None and not corrected.active():
            corrected = None
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
                template = mask(message)
                if corrected is not None and corrected.label_for(route, template) is not None:
                    label = None  # an operator's correction outranks the rules
                known = seen[(route, message)] = (label, template)
            label, template = known
            if label is not None:
                cut = i in truncated
                reason = "truncated" if cut else None
                verdicts[i] = Verdict(label, 1.0, REGEX_TIER, False, template, reason, cut)
                regex_lines += 1
                counted = regex_templates.setdefault((route, template), [label, 0])
                counted[1] += 1
            else:
                pending.setdefault((route, template), []).append(i)
        return Prepared(verdicts, pending, truncated, regex_lines, regex_templates)

    def key_for(self, record: LogRecord) -> tuple[str, str]:
        """The ``(route, template)`` a line is classified under (what a correction names)."""
        return self.taxonomy.route_for(record.source), mask(record.message[: self.max_line_chars])

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
        """``(outcome, cached)`` per distinct ``(route, template)``: an operator's correction,
        then the cache, then in-flight sharing, then the model tiers."""
        result: dict[tuple[str, str], tuple[Outcome, bool]] = {}
        if self.corrections is not None and self.corrections.active():
            for key in keys:
                label = self.corrections.label_for(*key)
                if label is not None:
                    result[key] = (Outcome(label, 1.0, OVERRIDE_TIER, None, False), False)
            keys = [key for key in keys if key not in result]
        cache_keys = {key: self._cache_key(*key) for key in keys}
        hits = await self._cache.lookup(list(cache_keys.values()))
        result.update({key: (hits[ck], True) for key, ck in cache_keys.items() if ck in hits})
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
                result.update(await self._compute(mine, cache_keys))
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
    ) -> dict[tuple[str, str], tuple[Outcome, bool]]:
        """Run the tiers for the keys this request owns and share the outcomes.

        With a cache shared by replicas, a key another replica is classifying (it holds the
        lease) is awaited from the cache instead, for a bounded time, then computed here.
        Cancelled mid-way (client gone, shutdown timeout), it tells the requests sharing
        these keys that nobody computes them any more, and each of those computes them
        itself: a cancelled request never hands its ``cancelled`` to another.
        """
        leased: list[str] = []

        async def settle(keys: list[tuple[str, str]]) -> dict[tuple[str, str], Outcome]:
            """Compute, share with this process's sharers, write to the cache."""
            computed = await self.chain.run(keys) if keys else {}
            for key, outcome in computed.items():
                mine[key].set_result(outcome)  # the sharers need not wait for the disk
            fresh = {cache_keys[k]: o for k, o in computed.items() if o.cacheable}
            await self._cache.write(fresh)
            return computed

        async def settle_own(keys: list[tuple[str, str]]) -> dict[tuple[str, str], Outcome]:
            nonlocal leased
            computed = await settle(keys)
            self._cache.release(leased)  # dropped once the write landed
            leased = []
            return computed

        async def from_replicas(keys: list[tuple[str, str]]) -> tuple[dict, dict]:
            """Wait for what other replicas compute; compute here what they did not."""
            found = await self._wait_for_replicas(keys, cache_keys) if keys else {}
            for key, outcome in found.items():
                mine[key].set_result(outcome)
            return found, await settle([k for k in keys if k not in found])

        try:
            own, others, leased = await self._lease(list(mine), cache_keys)
            # at once: a request holding some keys and waiting for others must not delay
            # its own (other replicas may be waiting for them)
            computed, (from_others, rest) = await asyncio.gather(
                settle_own(own), from_replicas(others)
            )
            return {key: (o, True) for key, o in from_others.items()} | {
                key: (o, False) for key, o in (computed | rest).items()
            }
        finally:
            for key, future in mine.items():
                if self._inflight.get(cache_keys[key]) is future:
                    del self._inflight[cache_keys[key]]
                if not future.done():
                    future.set_result(_ABANDONED)
            self._cache.release(leased)

    async def _lease(
        self, keys: list[tuple[str, str]], cache_keys: dict[tuple[str, str], str]
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[str]]:
        """(keys to compute here, keys another replica is computing, leases now held)."""
        if not self._cache.shared:  # no shared level: all ours, no thread hop
            return keys, [], []
        held = await self._cache.lease([cache_keys[k] for k in keys])
        own = [k for k in keys if cache_keys[k] in held]
        others = [k for k in keys if cache_keys[k] not in held]
        return own, others, [cache_keys[k] for k in own]

    async def _wait_for_replicas(
        self, keys: list[tuple[str, str]], cache_keys: dict[tuple[str, str], str]
    ) -> dict[tuple[str, str], Outcome]:
        by_ckey = {cache_keys[k]: k for k in keys}
        found = await self._cache.wait_for_replicas(list(by_ckey))
        return {by_ckey[ck]: outcome for ck, outcome in found.items()}

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
        if self.corrections is not None:
            components["corrections"] = self.corrections.health()
        return components

    async def start(self) -> None:
        """Warm up what asks for it (e.g. ``LOGCLASS_BERT_WARMUP``); called by the lifespan."""
        for tier in self.tiers.values():
            start = getattr(tier, "start", None)
            if start is not None:
                await start()

    async def aclose(self) -> None:
        self._workers.shutdown(wait=False, cancel_futures=True)
        if self.corrections is not None:
            self.corrections.close()
        for tier in self.tiers.values():
            await tier.aclose()
        self._cache.close()


@dataclass(slots=True)
class Prepared:
    """:meth:`Classifier.match_rules`' result: verdicts decided by rules (``None`` where a
    model tier must decide), those lines' indexes by ``(route, template)``, the indexes of
    truncated lines, and how many lines the regex rules decided."""

    verdicts: list[Verdict | None]
    pending: dict[tuple[str, str], list[int]]
    truncated: set[int]
    regex_lines: int
    regex_templates: dict[tuple[str, str], list[Any]]  # (route, template) -> [label, lines]


def to_verdict(outcome: Outcome, cached: bool, template: str, truncated: bool) -> Verdict:
    """A line's verdict from its template's outcome. A truncated line says so in
    ``truncated``, and in ``reason`` unless the outcome has a reason of its own."""
    reason = outcome.reason
    if reason is None and truncated:
        reason = "truncated"
    return Verdict(
        outcome.label, outcome.confidence, outcome.tier, cached, template, reason, truncated
    )


# by identity: "the request computing this went away; compute it yourself"
_ABANDONED = Outcome(UNCLASSIFIED, None, "none", "cancelled", cacheable=False)
