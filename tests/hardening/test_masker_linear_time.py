"""The masker's own patterns stay linear on adversarial lines: 8x the length costs well under
64x (quadratic) the CPU time, for each pattern alone and for ``mask`` as a whole.

Inputs are runs of the characters and fragments the patterns are built around (digits,
dots, colons, slashes, ``key=``, ``user``, ``@``, placeholders), each ending in a character
that makes a match fail late. CPU time, best of three, so the shared machine's noise does
not decide.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from processors import masking_rules, templates

SHORT, LONG = 500, 4_000  # 8x the length; linear: ~8x the time, quadratic: ~64x
MAX_RATIO = 24.0
FRAGMENTS = [
    "1", "a", ".", "1.", "a.", ":", "1:", "/", "a/", "-", "0x", "=", "a=", "user=a ", "User ",
    " ", "@", "a@", "a@b.", "<NUM>", "<NUM> ", "<NUM>, ", "(", "(<NUM>)", "Jan ", "12:30 ",
    "http://a", "\\", "..", "...", "ab1", "a-1", "1e", "[1]", "'a'", '"a"', "for a from ",
]  # fmt: skip
TAILS = ["", "!"]
PATTERNS = {
    name: value for name, value in vars(masking_rules).items() if isinstance(value, re.Pattern)
}
# How mask() uses each pattern (``rules.NAME`` in the engine): on a whole token (fullmatch)
# or scanning the line.
SOURCE = Path(templates.__file__).read_text()
FULLMATCH_ONLY = {
    name for name in PATTERNS
    if f"rules.{name}.fullmatch(" in SOURCE
    and not re.search(rf"rules\.{name}\.(?!fullmatch)\w+\(", SOURCE)
}  # fmt: skip


def cpu_seconds(work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def line(fragment: str, length: int, tail: str) -> str:
    return (fragment * (length // len(fragment) + 1))[:length] + tail


def worst_ratio(run: Callable[[str], object]) -> tuple[float, str]:
    worst, culprit = 0.0, ""
    for fragment in FRAGMENTS:
        for tail in TAILS:
            short = cpu_seconds(lambda f=fragment, t=tail: run(line(f, SHORT, t)))
            long = cpu_seconds(lambda f=fragment, t=tail: run(line(f, LONG, t)))
            ratio = long / max(short, 20e-6)  # below ~20 µs the clock is the noise
            if ratio > worst:
                worst, culprit = ratio, repr(fragment + "…" + tail)
    return worst, culprit


def test_masker_has_patterns_to_check():
    assert len(PATTERNS) >= 15  # if the masker moves its patterns, this test must follow
    assert {"HEX", "HOST", "IP"} <= FULLMATCH_ONLY and "TOKEN" not in FULLMATCH_ONLY
    assert all(re.search(rf"rules\.{name}\b", SOURCE) for name in PATTERNS)  # all in use


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_each_masker_pattern_is_linear_on_adversarial_runs(name):
    pattern = PATTERNS[name]
    if name in FULLMATCH_ONLY:
        ratio, culprit = worst_ratio(pattern.fullmatch)
    else:
        ratio, culprit = worst_ratio(lambda text: sum(1 for _ in pattern.finditer(text)))
    assert ratio < MAX_RATIO, f"{name}: {ratio:.0f}x the time for 8x the length on {culprit}"


def test_mask_is_linear_on_adversarial_runs():
    ratio, culprit = worst_ratio(templates.mask)
    assert ratio < MAX_RATIO, f"mask: {ratio:.0f}x the time for 8x the length on {culprit}"
