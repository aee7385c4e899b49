from pathlib import Path

import pytest

from processors.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy, TaxonomyError

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
