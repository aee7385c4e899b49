import re

import pytest

from processors.regex import RegexTier
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Rule, Taxonomy


@pytest.fixture(scope="module")
def default_rules() -> RegexTier:
    return RegexTier(Taxonomy.load(DEFAULT_TAXONOMY_PATH).rules)


@pytest.mark.parametrize(
    ("line", "label"),
    [
        ("User User123 logged in.", "User Action"),
        ("User User685 logged out.", "User Action"),
        ("Account with ID 5351 created by User634.", "User Action"),
        ("Backup started at 2025-05-14 07:06:55.", "System Notification"),
        ("Backup ended at 2025-08-08 13:06:23.", "System Notification"),
        ("Backup completed successfully.", "System Notification"),
        ("System updated to version 2.0.5.", "System Notification"),
        ("File data_6169.csv uploaded successfully by user User953.", "System Notification"),
        ("Disk cleanup completed successfully.", "System Notification"),
        ("System reboot initiated by user User243.", "System Notification"),
        ("Multiple login failures occurred on user 6454 account", None),
        ("", None),
    ],
)
def test_default_rules_cover_the_fixed_form_lines(default_rules, line, label):
    assert default_rules.match(line) == label


def test_first_rule_wins_even_when_a_later_rule_matches_earlier_in_the_line():
    tier = RegexTier([Rule("failed", "Error"), Rule("^disk", "Resource Usage")])
    assert tier._combined is not None  # one combined pass
    assert tier.match("disk write failed") == "Error"
    assert tier.match("disk full") == "Resource Usage"


def test_rules_with_backreferences_still_match_one_by_one():
    tier = RegexTier([Rule(r"(\w+) \1", "Error"), Rule("ok", "User Action")])
    assert tier._combined is None
    assert tier.match("again again") == "Error"
    assert tier.match("all ok") == "User Action"
    assert tier.match("nothing") is None


def test_rules_with_their_own_groups_report_the_right_label():
    tier = RegexTier([Rule(r"^(GET|POST) (?P<path>\S+)", "HTTP Status"), Rule("(x)(y)", "Error")])
    assert tier.match("POST /a") == "HTTP Status"
    assert tier.match("axy") == "Error"


def test_anchored_and_unanchored_rules_keep_first_match_semantics():
    tier = RegexTier([Rule("^a|b", "Error"), Rule("^x", "User Action"), Rule("y$", "HTTP Status")])
    assert tier.match("zzb") == "Error"  # '^a|b' is a branch, not anchored
    assert tier.match("xy") == "User Action"
    assert tier.match("zxy") == "HTTP Status"  # '^x' must not match mid-line


@pytest.mark.parametrize(
    ("pattern", "line"),
    [("start.*end", "start\nend"), ("^a.b$", "a\nb"), ("x.", "x\n")],
)
def test_a_rule_answers_the_same_whatever_the_other_rules(pattern, line):
    """``.`` means what it means in ``re.search``, combined pass or rule by rule."""
    alone = RegexTier([Rule(pattern, "Error")])
    beside_a_backreference = RegexTier([Rule(r"(q)\1", "HTTP Status"), Rule(pattern, "Error")])
    assert alone._combined is not None and beside_a_backreference._combined is None
    expected = "Error" if re.search(pattern, line) else None
    assert alone.match(line) == beside_a_backreference.match(line) == expected
