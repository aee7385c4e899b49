"""The model tiers of each route, in order: each sees only what earlier ones left undecided.

Before them, on a new template, the taxonomy's ``match: template`` rules. Guarantees:
one outcome per template, in order; never raises because of a tier (a failing tier
leaves its templates undecided with a reason such as ``bert_error``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from concurrent.futures import Executor

from monitoring import MetricsRegistry
from processors.records import UNCLASSIFIED, Decision, Outcome, Tier
from processors.regex import RegexTier
from processors.taxonomy import REGEX_TIER, Taxonomy

log = logging.getLogger(__name__)
# Text longer than this (in characters, ~5 ms of masking or rule matching) is handled in a
# worker thread, so the event loop keeps answering health checks and small requests.
OFF_LOOP_CHARS = 32_768


class TierChain:
    """Runs ``(route, template)`` keys through their routes' model tiers."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        tiers: Mapping[str, Tier],
        registry: MetricsRegistry,
        executor: Executor | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.executor = executor  # where big batches of templates meet the rules
        self.tiers = tiers
        self.registry = registry
        self.template_rules = RegexTier(taxonomy.rules_on("template"))

    async def run(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Outcome]:
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
            if sum(map(len, templates)) > OFF_LOOP_CHARS:  # long templates: ms of regex
                loop = asyncio.get_running_loop()
                undecided = await loop.run_in_executor(
                    self.executor, self._match_template_rules, templates, outcomes
                )
            else:
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


def _undecided(reason: str, cacheable: bool = True) -> Outcome:
    return Outcome(UNCLASSIFIED, None, "none", reason, cacheable)
