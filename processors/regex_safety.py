"""Catastrophic-backtracking checks for taxonomy rules, run when the taxonomy is loaded.

The regex tier runs every rule on the raw line, on the event loop, and Python's ``re`` can
neither be interrupted nor time-boxed in-process: one rule like ``(\\w+\\s?)+$`` and a
40-character line would stall the whole service for minutes. So a rule must pass two checks
before the service starts:

* :func:`static_problem` reads the parse tree and refuses the shapes that backtrack
  exponentially: an unbounded repeat whose body can end in another unbounded repeat over
  characters the body can start with (``(a+)+``, ``(.*)*``, ``(\\w+\\s?)+``), and an
  unbounded repeat over alternatives that can start with the same character (``(a|a)*``,
  ``(\\w|\\d)+``). ``(\\d+\\.)+`` passes: the ``.`` separates the iterations.
* :func:`probe_rules` runs every compiled rule, in a child process with a time box, on
  adversarial lines built from the rule (runs of the characters its repeats take, its
  literal words repeated, then a character that makes the match fail) of doubling length up
  to :data:`PROBE_MAX_CHARS`, and refuses a rule whose time grows super-linearly to more
  than :data:`BUDGET_SECONDS` on one line, or that does not finish.

Both name the rule. Results are memoised per pattern set, so loading a taxonomy again
costs nothing.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from re import _constants as c  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

__all__ = ["PROBE_MAX_CHARS", "BUDGET_SECONDS", "unsafe_rules", "static_problem", "probe_rules"]

PROBE_MAX_CHARS = 8_192  # the default LOGCLASS_MAX_LINE_CHARS: longer lines are truncated
BUDGET_SECONDS = 0.01  # CPU time one rule may take on one adversarial line of that length
RULE_TIMEOUT_SECONDS = 2.0  # one rule, every probe line; a rule still running is refused
_UNBOUNDED = 64  # a repeat allowing more than this many iterations counts as unbounded
_REPEATS = (c.MAX_REPEAT, c.MIN_REPEAT)  # POSSESSIVE_REPEAT never backtracks
_ONE_CHAR = (c.LITERAL, c.NOT_LITERAL, c.ANY, c.IN)
_ZERO_WIDTH = (c.AT, c.ASSERT, c.ASSERT_NOT)
# Stand-ins for "any character": first-character sets are computed over these.
_ALPHABET = (
    "aAzZ09_ -.,:;/\\@#=+*?!()[]{}<>|'\"\t\n\x00é€"
    + "".join(chr(i) for i in range(0x21, 0x7F) if not chr(i).isalnum())
    + "bcdxyBCDXY12345678"
)


FIX_HINT = (
    "; rewrite it so each character can be matched one way only: anchor it with '^', bound "
    "its repeats ('\\d{1,10}'), start it after a boundary ('\\b', '(?<!\\d)'), or use a "
    "possessive repeat ('\\w++')"
)


def unsafe_rules(patterns: Sequence[str]) -> list[tuple[int, str]]:
    """``(index, problem)`` for each pattern that fails a check, in order; [] when all pass.

    The static check first (no pattern it refuses is ever run), then the probe on the rest.
    """
    problems = {i: p for i, pattern in enumerate(patterns) if (p := static_problem(pattern))}
    rest = [i for i in range(len(patterns)) if i not in problems]
    for j, problem in probe_rules([patterns[i] for i in rest]).items():
        problems[rest[j]] = problem
    return [(i, problems[i] + FIX_HINT) for i in sorted(problems)]


def static_problem(pattern: str) -> str | None:
    """Why ``pattern`` backtracks exponentially, or None when no known shape is found."""
    try:
        tree = _parser.parse(pattern)
    except Exception:  # compile errors are reported by the caller, with their own message
        return None
    for node in _walk(list(tree)):
        op, av = node
        if op not in _REPEATS or av[1] <= _UNBOUNDED:
            continue
        body = list(av[2])
        starts, _ = _first(body, tree.state)
        for inner in _trailing_repeats(body):
            inner_starts, _ = _first(list(inner[1][2]), tree.state)
            if inner_starts & starts:
                return (
                    "nested quantifiers over overlapping characters (like '(a+)+'): "
                    "exponential backtracking on a line that almost matches"
                )
        for branch_op, branch_av in _walk(body):
            if branch_op == c.BRANCH and _ambiguous(branch_av[1], starts, tree.state):
                return (
                    "a repeated alternation whose branches can match alike (like "
                    "'(a|a)*'): exponential backtracking on a line that almost matches"
                )
    return None


def _ambiguous(branches: Sequence[Any], follow: frozenset[str], state: Any) -> bool:
    """Whether two alternatives can start with the same character, or both match empty.

    An alternative that can match empty starts with whatever follows it, approximated by
    what the repeated body starts with (``(a|aa)+`` is ``a(?:|a)`` to the parser).
    """
    firsts = []
    for branch in branches:
        chars, empty = _first(list(branch), state)
        firsts.append((chars | follow if empty else chars, empty))
    for i, (left, left_empty) in enumerate(firsts):
        for right, right_empty in firsts[i + 1 :]:
            if left & right or (left_empty and right_empty):
                return True
    return False


def _walk(items: list[Any]) -> Iterator[tuple[Any, Any]]:
    """Every node of a parse tree, depth first."""
    for op, av in items:
        yield op, av
        if op in _REPEATS or op == c.POSSESSIVE_REPEAT:
            yield from _walk(list(av[2]))
        elif op in (c.SUBPATTERN,):
            yield from _walk(list(av[3]))
        elif op in (c.ATOMIC_GROUP, c.ASSERT, c.ASSERT_NOT):
            yield from _walk(list(av if op == c.ATOMIC_GROUP else av[1]))
        elif op == c.BRANCH:
            for branch in av[1]:
                yield from _walk(list(branch))
        elif op == c.GROUPREF_EXISTS:
            yield from _walk(list(av[1]))
            if av[2] is not None:
                yield from _walk(list(av[2]))


def _trailing_repeats(items: list[Any]) -> Iterator[tuple[Any, Any]]:
    """Unbounded backtracking repeats that can end a match of ``items``."""
    for op, av in reversed(items):
        if op in _REPEATS and av[1] > _UNBOUNDED:
            yield op, av
        if op == c.SUBPATTERN:
            yield from _trailing_repeats(list(av[3]))
        elif op == c.BRANCH:
            for branch in av[1]:
                yield from _trailing_repeats(list(branch))
        if not _nullable(op, av):
            return


def _nullable(op: Any, av: Any) -> bool:
    if op in _ZERO_WIDTH:
        return True
    if op in _REPEATS or op == c.POSSESSIVE_REPEAT:
        return av[0] == 0 or _first(list(av[2]), None)[1]
    if op == c.SUBPATTERN:
        return _first(list(av[3]), None)[1]
    if op == c.ATOMIC_GROUP:
        return _first(list(av), None)[1]
    if op == c.BRANCH:
        return any(_first(list(b), None)[1] for b in av[1])
    return op not in _ONE_CHAR  # back-references, conditionals: may be empty


def _first(items: list[Any], state: Any) -> tuple[frozenset[str], bool]:
    """Characters (of :data:`_ALPHABET`) a match of ``items`` can start with; nullable."""
    found: set[str] = set()
    for op, av in items:
        if op in _ONE_CHAR:
            found |= _matching_chars(op, av, state)
            return frozenset(found), False
        if op in _REPEATS or op == c.POSSESSIVE_REPEAT:
            chars, empty = _first(list(av[2]), state)
            found |= chars
            if av[0] > 0 and not empty:
                return frozenset(found), False
        elif op == c.SUBPATTERN or op == c.ATOMIC_GROUP:
            chars, empty = _first(list(av[3] if op == c.SUBPATTERN else av), state)
            found |= chars
            if not empty:
                return frozenset(found), False
        elif op == c.BRANCH:
            results = [_first(list(b), state) for b in av[1]]
            found |= set().union(*(chars for chars, _ in results))
            if not any(empty for _, empty in results):
                return frozenset(found), False
        elif op not in _ZERO_WIDTH:  # back-references, conditionals: could be anything
            return frozenset(_ALPHABET), True
    return frozenset(found), True


def _matching_chars(op: Any, av: Any, state: Any) -> frozenset[str]:
    """Which alphabet characters a one-character node matches, asked of ``re`` itself."""
    from re import _compiler  # type: ignore[attr-defined]

    sub = _parser.SubPattern(state or _parser.State(), [(op, av)])
    compiled = _compiler.compile(sub, 0)
    return frozenset(ch for ch in _ALPHABET if compiled.match(ch))


# -- the empirical probe ----------------------------------------------------------------------


def probe_rules(patterns: Sequence[str]) -> dict[int, str]:
    """Index → problem, for the rules that are super-linear past the budget or never finish.

    Runs in a child process (``re`` holds the GIL and cannot be interrupted in-process);
    each rule has :data:`RULE_TIMEOUT_SECONDS` (the child's alarm kills it, and the rule it
    was on is the culprit). Memoised per pattern set.
    """
    return dict(_probe(tuple(patterns)))


@functools.lru_cache(maxsize=64)
def _probe(patterns: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    problems: list[tuple[int, str]] = []
    todo = list(range(len(patterns)))
    while todo:  # after a rule kills the child, the rest are probed in a new one
        payload = json.dumps({"patterns": [patterns[i] for i in todo], "max_chars":
                              PROBE_MAX_CHARS, "budget": BUDGET_SECONDS,
                              "alarm": RULE_TIMEOUT_SECONDS})  # fmt: skip
        args = [sys.executable, "-I", "-S", "-c", _PROBE_SCRIPT]
        limit = RULE_TIMEOUT_SECONDS * (len(todo) + 1)
        done = subprocess.run(args, input=payload, capture_output=True, text=True, timeout=limit)
        finished: set[int] = set()
        started = -1
        for line in done.stdout.splitlines():
            kind, _, rest = line.partition(" ")
            index, _, detail = rest.partition(" ")
            if kind == "start":
                started = int(index)
            elif kind in ("ok", "slow"):
                finished.add(int(index))
            if kind == "slow":
                problems.append((todo[int(index)], detail))
        if started < 0 or started in finished:
            if done.returncode != 0:
                raise RuntimeError(f"the regex probe failed: {done.stderr[-500:]}")
            break
        problems.append((todo[started], f"still running after {RULE_TIMEOUT_SECONDS:g} s "
                                         "on an adversarial line"))  # fmt: skip
        todo = todo[started + 1 :]
    return tuple(sorted(problems))


# Runs in the child: for each rule, adversarial lines of doubling length; the time of the
# slowest per length. "slow" once that time passes the budget and grew faster than linearly
# over the last two doublings (linear: 4x). Default SIGALRM action: the child dies.
_PROBE_SCRIPT = r"""
import json, re, signal, sys, time
from re import _parser, _constants as c

def seeds(pattern):
    chars = set("a1 _.-/:")
    def walk(items):
        for op, av in items:
            if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
                chars.update(chr(v) for o, v in av[2] if o == c.LITERAL)
                walk(av[2])
            elif op == c.SUBPATTERN:
                walk(av[3])
            elif op == c.BRANCH:
                for b in av[1]:
                    walk(b)
    walk(_parser.parse(pattern))
    words = sorted(set(re.findall(r"[A-Za-z]{3,}", pattern)))[:4]
    return sorted(chars), words

def lines(chars, words, n):
    out = [ch * n + "\x00" for ch in chars]
    out += [((w + " ") * n)[:n] + "\x00" for w in words]
    return out + [("a1 " * n)[:n] + "\x00", ("ab " * n)[:n] + "!"]

data = json.loads(sys.stdin.read())
budget, max_chars = data["budget"], data["max_chars"]
for i, pattern in enumerate(data["patterns"]):
    print("start", i, flush=True)
    signal.setitimer(signal.ITIMER_REAL, data["alarm"])
    rx = re.compile(pattern)
    chars, words = seeds(pattern)
    times, n, verdict = [], 64, "ok"
    while n <= max_chars:
        worst = 0.0
        for line in lines(chars, words, n):
            t0 = time.process_time()
            rx.search(line)
            worst = max(worst, time.process_time() - t0)
        times.append(worst)
        growth = worst / max(times[-3], 1e-6) if len(times) >= 3 else 0.0
        if worst > budget and growth > 6:
            verdict = (f"slow {i} super-linear time: {worst * 1000:.0f} ms on a "
                       f"{n}-character line, {growth:.0f}x the time for 4x the length")
            break
        n *= 2
    signal.setitimer(signal.ITIMER_REAL, 0)
    print(verdict if verdict != "ok" else f"ok {i}", flush=True)
"""
