"""Taxonomy rules that backtrack catastrophically stop start-up, naming the rule; the
built-in and shipped rules pass; the checks do not refuse ordinary log rules."""

from __future__ import annotations

import time

import pytest

from app import cli
from processors.regex_safety import probe_rules, static_problem, unsafe_rules
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy, TaxonomyError
from tests.conftest import REPO


def taxonomy_with(*patterns: str) -> str:
    rules = "\n".join(f"  - {{pattern: '{p}', label: A}}" for p in patterns)
    return f"labels: [{{name: A}}]\nrules:\n{rules}\n"


@pytest.mark.parametrize(
    "pattern",
    [r"(a+)+$", r"(a|a)*$", r"(.*)*x", r"^(\w+\s?)+$", r"(a|aa)+$", r"(\d+|-)+$",
     r"((ab)*)+c", r"^(x+x+)+y"],
)  # fmt: skip
def test_exponential_shapes_are_refused_without_running_them(pattern):
    assert static_problem(pattern) is not None
    started = time.monotonic()
    with pytest.raises(TaxonomyError, match=r"rules\[1\]: regex .* is unsafe: "):
        Taxonomy.parse(taxonomy_with("^ok$", pattern), "t.yaml")
    assert time.monotonic() - started < 1.0  # refused by shape, never matched


@pytest.mark.parametrize(
    "pattern",
    [r"\b(\d+\.)+\d+\b", r"^(ab+)+$", r"(?:GET|POST|PUT|PATCH) /", r"(?i)failed (login|password)",
     r"[Dd]isk usage at \d+%", r"\berror\b.*\btimeout\b", r"^(\d+\.)+$", r"\b\d+ failed"],
)  # fmt: skip
def test_ordinary_log_rules_pass_both_checks(pattern):
    assert unsafe_rules([pattern]) == []


def test_quadratic_search_is_refused_by_the_probe_with_its_timing():
    # Unanchored, a run of digits is re-scanned from every position: 4x time per 2x length.
    [(index, problem)] = unsafe_rules([r"\d+ failed"])
    assert index == 0 and "super-linear time" in problem and "anchor it" in problem


def test_a_rule_that_never_finishes_is_time_boxed_and_named():
    # Polynomial of degree 6: no nested quantifier for the shape check to see.
    runaway = r"^a*a*a*a*a*a*b"
    assert static_problem(runaway) is None
    started = time.monotonic()
    problems = probe_rules(["^ok$", runaway, "^fine$"])
    assert list(problems) == [1] and "still running after" in problems[1]
    assert time.monotonic() - started < 8


def test_shipped_taxonomies_pass():
    for path in [DEFAULT_TAXONOMY_PATH, *REPO.glob("tests/**/taxonomy*.yaml")]:
        Taxonomy.load(path)  # raises if a rule were refused


def test_serve_refuses_to_start_on_an_unsafe_rule(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "taxonomy.yaml"
    bad.write_text(taxonomy_with(r"^User \w+$", r"^(\w+\s?)+$"))
    monkeypatch.setenv("LOGCLASS_TAXONOMY", str(bad))
    assert cli.main(["serve"]) == 2  # before uvicorn is imported or a port bound
    assert f"{bad}: rules[1]: regex" in capsys.readouterr().err
