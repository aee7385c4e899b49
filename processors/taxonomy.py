"""The taxonomy file: labels, regex rules and per-source routes, validated at start-up.

A bad file raises :class:`TaxonomyError` whose message names the file, the entry and the
problem, so start-up stops with something an operator can act on.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from processors.regex_safety import unsafe_rules

DEFAULT_TAXONOMY_PATH = Path(__file__).parent / "data" / "taxonomy.yaml"
REGEX_TIER = "regex"
MODEL_TIERS = ("bert", "llm")
KNOWN_TIERS = (REGEX_TIER, *MODEL_TIERS)
DEFAULT_ROUTE = "default"
RULE_TARGETS = ("line", "template")


class TaxonomyError(ValueError):
    """The taxonomy file cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Label:
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class Rule:
    """A regex rule. ``match="line"`` (the default) matches the raw line before anything else
    and is never cached; ``match="template"`` matches the masked template on a cache miss, so
    its verdict is cached like a model's and the warm path never pays for it."""

    pattern: str
    label: str
    match: str = "line"


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """A validated taxonomy. ``fingerprint`` is a hash of the file's content."""

    labels: tuple[Label, ...]
    rules: tuple[Rule, ...]
    routes: dict[str, tuple[str, ...]]
    fingerprint: str
    path: str = "<memory>"

    def rules_on(self, target: str) -> tuple[Rule, ...]:
        """The rules matched against ``target`` (``line`` or ``template``), in file order."""
        return tuple(rule for rule in self.rules if rule.match == target)

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    def route_for(self, source: str) -> str:
        """The route name that applies to ``source`` (its own, else ``default``)."""
        return source if source in self.routes else DEFAULT_ROUTE

    @classmethod
    def load(cls, path: str | Path) -> Taxonomy:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TaxonomyError(f"{path}: cannot read taxonomy file ({exc.strerror})") from exc
        return cls.parse(text, str(path))

    @classmethod
    def parse(cls, text: str, where: str = "<memory>") -> Taxonomy:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise TaxonomyError(f"{where}: not valid YAML ({exc})") from exc
        if not isinstance(data, dict):
            raise TaxonomyError(f"{where}: expected a mapping with 'labels', 'rules', 'routes'")
        unknown = set(data) - {"labels", "rules", "routes"}
        if unknown:
            raise TaxonomyError(f"{where}: unknown top-level key(s) {sorted(unknown)}")
        labels = _parse_labels(data.get("labels"), where)
        names = {label.name for label in labels}
        rules = _parse_rules(data.get("rules") or [], names, where)
        routes = _parse_routes(data.get("routes"), where)
        fingerprint = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        return cls(labels, rules, routes, fingerprint, where)


def _parse_labels(raw: Any, where: str) -> tuple[Label, ...]:
    if not isinstance(raw, list) or not raw:
        raise TaxonomyError(f"{where}: 'labels' must be a non-empty list")
    labels: list[Label] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        at = f"{where}: labels[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise TaxonomyError(f"{at}: each label needs a 'name' string")
        name = entry["name"].strip()
        if not name:
            raise TaxonomyError(f"{at}: label name is empty")
        if name.casefold() in seen:
            raise TaxonomyError(f"{at}: duplicate label {name!r}")
        if name == "Unclassified":
            raise TaxonomyError(f"{at}: 'Unclassified' is reserved for lines no tier decides")
        seen.add(name.casefold())
        labels.append(Label(name, str(entry.get("description", "")).strip()))
    return tuple(labels)


def _parse_rules(raw: Any, names: set[str], where: str) -> tuple[Rule, ...]:
    if not isinstance(raw, list):
        raise TaxonomyError(f"{where}: 'rules' must be a list")
    rules: list[Rule] = []
    for i, entry in enumerate(raw):
        at = f"{where}: rules[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("pattern"), str):
            raise TaxonomyError(f"{at}: each rule needs a 'pattern' string and a 'label'")
        pattern, label = entry["pattern"], entry.get("label")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise TaxonomyError(f"{at}: bad regex {pattern!r}: {exc}") from exc
        if label not in names:
            raise TaxonomyError(f"{at}: label {label!r} is not in 'labels' {sorted(names)}")
        match = entry.get("match", "line")
        if match not in RULE_TARGETS:
            raise TaxonomyError(f"{at}: 'match' is {match!r}; allowed: {list(RULE_TARGETS)}")
        rules.append(Rule(pattern, label, match))
    for i, problem in unsafe_rules([rule.pattern for rule in rules])[:1]:
        raise TaxonomyError(f"{where}: rules[{i}]: regex {rules[i].pattern!r} is unsafe: {problem}")
    return tuple(rules)


def _parse_routes(raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {DEFAULT_ROUTE: KNOWN_TIERS}
    if not isinstance(raw, dict):
        raise TaxonomyError(f"{where}: 'routes' must map a source name to a list of tiers")
    routes: dict[str, tuple[str, ...]] = {}
    for source, tiers in raw.items():
        at = f"{where}: routes[{source!r}]"
        if not isinstance(tiers, list) or not all(isinstance(t, str) for t in tiers):
            raise TaxonomyError(f"{at}: expected a list of tiers from {list(KNOWN_TIERS)}")
        bad = [t for t in tiers if t not in KNOWN_TIERS]
        if bad:
            raise TaxonomyError(f"{at}: unknown tier(s) {bad}; allowed: {list(KNOWN_TIERS)}")
        if len(set(tiers)) != len(tiers):
            raise TaxonomyError(f"{at}: a tier is listed twice")
        if REGEX_TIER in tiers and tiers[0] != REGEX_TIER:
            raise TaxonomyError(f"{at}: 'regex' must come first (it runs on the raw line)")
        routes[str(source)] = tuple(tiers)
    routes.setdefault(DEFAULT_ROUTE, KNOWN_TIERS)
    return routes
