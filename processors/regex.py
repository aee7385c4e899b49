"""The regex tier: the taxonomy's rules, compiled once, matched on the raw line.

All rules are joined into one pattern, ``^(?:(?s:.*?)(?P<r0>rule0)|(?s:.*?)(?P<r1>rule1)|…)``:
the engine tries rule 0 at every position before rule 1, so the first rule that matches
anywhere wins, exactly as a loop of ``re.search`` calls would decide, in one C-level call.
Only the position scan crosses newlines (``(?s:…)``); the rules themselves get no flags, so
``.`` in a rule means what it means in ``re.search``, whichever path matches it.
Rules anchored with ``^`` are joined without the ``.*?``: they can only match at the start,
and scanning every position for them made the tier 30x slower on real lines.
Rules that cannot be joined (back-references, duplicate group names) are matched one by one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from processors.taxonomy import Rule


class RegexTier:
    """Decides lines by the first matching rule; ``match`` never raises."""

    name = "regex"

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self._combined = _combine(self.rules)
        self._singles = tuple(re.compile(rule.pattern) for rule in self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def match(self, line: str) -> str | None:
        """The label of the first rule matching ``line``, or None."""
        if not self.rules:
            return None
        if self._combined is not None:
            found = self._combined.match(line)
            group = found.lastgroup if found is not None else None  # "r<index of the rule>"
            return None if group is None else self.rules[int(group[1:])].label
        for rule, compiled in zip(self.rules, self._singles, strict=True):
            if compiled.search(line):
                return rule.label
        return None

    def health(self) -> dict[str, object]:
        return {"status": "ok", "rules": len(self.rules), "combined": self._combined is not None}


def _combine(rules: Sequence[Rule]) -> re.Pattern[str] | None:
    if not rules:
        return None
    if any(re.search(r"\\\d|\(\?P=", rule.pattern) for rule in rules):
        return None  # numbered back-references would point at the wrong group once joined
    joined = "|".join(
        f"{'' if _anchored(rule.pattern) else '(?s:.*?)'}(?P<r{i}>{rule.pattern})"
        for i, rule in enumerate(rules)
    )
    try:
        return re.compile(f"(?:{joined})")
    except re.error:
        return None


def _anchored(pattern: str) -> bool:
    """True when every match of ``pattern`` must start at position 0 (a leading ``^``).

    Reads the parse tree, so ``^a|b`` (a top-level branch) is rightly not anchored. The
    parser is CPython's internal one; if it ever moves, rules are simply not optimised.
    """
    try:
        from re import _constants, _parser  # type: ignore[attr-defined]

        items = list(_parser.parse(pattern))
        return bool(items) and items[0] == (_constants.AT, _constants.AT_BEGINNING)
    except Exception:
        return False
