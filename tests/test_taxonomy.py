from pathlib import Path

import pytest

from processors.regex import RegexTier
from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy, TaxonomyError
from processors.templates import mask

GOOD = """
labels:
  - {name: Security Alert, description: auth failures}
  - {name: User Action, description: things users do}
rules:
  - {pattern: '^User \\w+ logged in$', label: User Action}
routes:
  default: [regex, bert, llm]
  LegacyCRM: [regex, llm]
"""


def test_default_taxonomy_has_the_nine_labels_and_routes():
    taxonomy = Taxonomy.load(DEFAULT_TAXONOMY_PATH)
    assert set(taxonomy.label_names) == {
        "HTTP Status", "Critical Error", "Error", "Security Alert", "Resource Usage",
        "System Notification", "User Action", "Workflow Error", "Deprecation Warning",
    }  # fmt: skip
    assert all(label.description for label in taxonomy.labels)
    assert taxonomy.routes["default"] == ("regex", "bert", "llm")
    assert taxonomy.routes["LegacyCRM"] == ("regex", "llm")
    assert len(taxonomy.rules) >= 8


def test_unknown_source_takes_the_default_route():
    taxonomy = Taxonomy.parse(GOOD)
    assert taxonomy.route_for("LegacyCRM") == "LegacyCRM"
    assert taxonomy.route_for("nginx") == "default"


def test_fingerprint_follows_the_content():
    assert Taxonomy.parse(GOOD).fingerprint == Taxonomy.parse(GOOD).fingerprint
    assert Taxonomy.parse(GOOD).fingerprint != Taxonomy.parse(GOOD + "\n# edited").fingerprint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("labels: []", "'labels' must be a non-empty list"),
        ("labels: [{name: A}, {name: a}]", "labels[1]: duplicate label 'a'"),
        ("labels: [{name: A}]\nrules: [{pattern: '(unclosed', label: A}]", "rules[0]: bad regex"),
        ("labels: [{name: A}]\nrules: [{pattern: 'x', label: B}]", "rules[0]: label 'B' is not"),
        ("labels: [{name: A}]\nroutes: {web: [regex, gpt]}", "routes['web']: unknown tier(s)"),
        ("labels: [{name: A}]\nroutes: {web: [bert, regex]}", "'regex' must come first"),
        ("labels: [{name: Unclassified}]", "reserved"),
        ("labels: [{name: A}]\nlables: []", "unknown top-level key"),
        ("labels: [A", "not valid YAML"),
    ],
)
def test_bad_taxonomy_names_file_entry_and_problem(tmp_path: Path, text: str, message: str):
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text)
    with pytest.raises(TaxonomyError) as error:
        Taxonomy.load(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_missing_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(TaxonomyError, match="cannot read taxonomy file"):
        Taxonomy.load(tmp_path / "absent.yaml")


def test_rules_match_the_line_unless_they_say_template():
    template_rule = "  - {pattern: 'is deprecated', label: User Action, match: template}\n"
    taxonomy = Taxonomy.parse(GOOD.replace("rules:\n", "rules:\n" + template_rule))
    assert [r.pattern for r in taxonomy.rules_on("template")] == ["is deprecated"]
    assert [r.pattern for r in taxonomy.rules_on("line")] == ["^User \\w+ logged in$"]


def test_a_rule_matching_anything_else_is_refused(tmp_path: Path):
    path = tmp_path / "taxonomy.yaml"
    path.write_text("labels: [{name: A}]\nrules: [{pattern: 'x', label: A, match: word}]")
    with pytest.raises(TaxonomyError, match=r"rules\[0\]: 'match' is 'word'; allowed"):
        Taxonomy.load(path)


def test_default_generic_rules_match_templates_not_lines():
    taxonomy = Taxonomy.load(DEFAULT_TAXONOMY_PATH)
    on_template = RegexTier(taxonomy.rules_on("template"))
    cases = {
        "mapred.tip.id is deprecated. Instead, use mapreduce.task.id": "Deprecation Warning",
        "Failed password for invalid user admin from 203.0.113.9 port 4022 ssh2":
            "Security Alert",
        "Accepted publickey for deploy from 10.1.2.3 port 50122 ssh2": "User Action",
        '10.0.0.1 - - [01/Dec/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 512':
            "HTTP Status",
        "Kernel panic - not syncing: Attempted to kill init!": "Critical Error",
        "Checkpoint complete: wrote 1024 buffers": None,
    }
    assert {line: on_template.match(mask(line)) for line in cases} == cases
