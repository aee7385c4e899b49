"""Synthetic phrasings and the format wrapper (processors/synthetic.py).

The phrasings follow ../shared/TAXONOMY-GUIDE.md and must not copy the eight Loghub systems
the head is evaluated on leave-one-system-out; the wrapper dresses lines in real log formats
without deciding their label.
"""

from __future__ import annotations

import csv
import difflib
import json
import random
import re
import string
from collections import Counter
from pathlib import Path

import pytest

from processors import synthetic

LOGHUB = Path(__file__).resolve().parents[2] / "shared" / "data" / "loghub"
PHRASINGS = synthetic.load_phrasings()
LABELS = sorted(PHRASINGS)

# Wording owned by the evaluation systems (HDFS, BGL, OpenStack, Linux, OpenSSH, Apache,
# Spark, Zookeeper). The same kinds of events are wanted, in other software's words.
LOGHUB_FRAGMENTS = (
    "osapi_compute", "nova.", "wsgi.server", "len: {bytes} time:", "[instance:", "Lifecycle Event",
    "Final resource view", "Attempting claim", "Claim successful", "compute resources",
    "block blk_", "blk_{", "PacketResponder", "NameSystem", "addStoredBlock", "Served block",
    "Receiving block",
    "jk2_init", "workerEnv", "mod_jk", "scoreboard", "Directory index forbidden",
    "Failed password for", "Accepted password for", "Accepted publickey for", "[preauth]",
    " ssh2", "POSSIBLE BREAK-IN", "Did not receive identification string", "pam_unix(sshd",
    "authentication failure; logname=", "check pass; user unknown", "session opened for user",
    "session closed for user", "startup succeeded", "ANONYMOUS FTP LOGIN", "ROOT LOGIN ON",
    "Kerberos authentication failed", "BIOS-e820",
    "ciod:", "rts panic", "rts:", "torus", "ddr error", "detected and corrected", "Lustre mount",
    "Node card", "NodeCard", "data TLB error", "data storage interrupt",
    "BlockManager", "MemoryStore", "in stage", "(TID", "sparkDriver", "akka.tcp", "Slf4jLogger",
    "is deprecated. Instead, use",
    "Established session", "Expiring session", "sessionid", "quorum peer", "LEADER ELECTION TOOK",
    "zxid", "Closed socket connection", "Accepted socket connection", "n.leader",
    "Snapshotting:",
)


def _tokens(text: str) -> list[str]:
    text = re.sub(r"\{[a-z_0-9]+\}", " <*> ", text).replace("<*>", " <*> ")
    return [t for t in re.split(r"[\s,;:()\[\]\"'=]+", text.lower()) if t]


def test_every_label_has_60_phrasings_and_routine_lines_120() -> None:
    counts = {label: len(set(items)) for label, items in PHRASINGS.items()}
    assert all(count == len(PHRASINGS[label]) for label, count in counts.items())  # no repeats
    assert min(counts.values()) >= 60, counts
    assert counts["System Notification"] >= 120, counts


def test_every_slot_is_known_and_every_phrasing_parses() -> None:
    known = set(synthetic._slots(random.Random(0)))
    for label, items in PHRASINGS.items():
        for phrasing in items:
            fields = [(name, spec, conv) for _, name, spec, conv
                      in string.Formatter().parse(phrasing) if name is not None]
            assert all(name in known and not spec and not conv for name, spec, conv in fields), \
                (label, phrasing)


def test_no_phrasing_uses_the_evaluation_systems_wording() -> None:
    offenders = [(label, phrasing, fragment) for label, items in PHRASINGS.items()
                 for phrasing in items for fragment in LOGHUB_FRAGMENTS
                 if fragment.lower() in phrasing.lower()]
    assert not offenders


@pytest.mark.skipif(not LOGHUB.is_dir(), reason="../shared/data/loghub is absent")
def test_no_phrasing_imitates_a_loghub_template() -> None:
    templates = []
    for path in sorted(LOGHUB.glob("*_templates.csv")):
        with path.open(encoding="utf-8", errors="replace", newline="") as f:
            templates += [(path.name.split("_")[0], _tokens(row["EventTemplate"]))
                          for row in csv.DictReader(f)]
    assert templates
    close = []
    for label, items in PHRASINGS.items():
        for phrasing in items:
            mine = _tokens(phrasing)
            for system, theirs in templates:
                ratio = difflib.SequenceMatcher(None, mine, theirs).ratio()
                if ratio >= 0.75:
                    close.append((round(ratio, 2), label, phrasing, system, " ".join(theirs)))
    assert not close


def test_format_shares_add_up_and_are_drawn_in_proportion() -> None:
    assert sum(synthetic.FORMAT_SHARES.values()) == pytest.approx(1.0)
    rng = random.Random(7)
    n = 20_000
    drawn = Counter(synthetic._wrap("Service billing stopped", LABELS[i % len(LABELS)], rng)[0]
                    for i in range(n))
    for fmt, share in synthetic.FORMAT_SHARES.items():
        assert drawn[fmt] / n == pytest.approx(share, abs=0.015), fmt


def test_a_wrapped_line_still_carries_the_message_unchanged() -> None:
    rng = random.Random(11)
    line = 'User bob exported 12 contacts to "q3 list"'
    seen = set()
    for i in range(2_000):
        fmt, wrapped = synthetic._wrap(line, LABELS[i % len(LABELS)], rng)
        seen.add(fmt)
        if fmt == "json":
            payload = json.loads(wrapped)
            assert payload.get("msg", payload.get("message")) == line
        elif wrapped.startswith("time="):  # logfmt quotes the message
            assert f"msg={json.dumps(line)}" in wrapped
        else:
            assert line in wrapped and (fmt == "bare") == (wrapped == line)
    assert seen == set(synthetic.FORMAT_SHARES)


def test_the_wrapper_level_is_evidence_not_the_answer() -> None:
    """Mostly the usual level for the label, but every label is sometimes logged contrary."""
    usual = {"HTTP Status": "INFO", "Critical Error": {"CRITICAL", "FATAL", "ERROR"},
             "Error": "ERROR", "Resource Usage": "WARN", "System Notification": "INFO",
             "User Action": "INFO", "Workflow Error": "ERROR", "Deprecation Warning": "WARN",
             "Security Alert": "WARN"}
    for label in LABELS:
        weights = dict(synthetic.LEVELS[label])
        top = max(weights, key=weights.__getitem__)
        assert top in usual[label] if isinstance(usual[label], set) else top == usual[label]
        assert len(weights) >= 3 and weights[top] / sum(weights.values()) <= 0.8, label
    assert dict(synthetic.LEVELS["Deprecation Warning"])["INFO"] >= 15
    assert dict(synthetic.LEVELS["Error"])["FATAL"] > 0
    assert {"WARN", "ERROR"} <= set(dict(synthetic.LEVELS["System Notification"]))

    rows = list(synthetic.generate(9_000, seed=1))
    info_deprecations = [m for _, m, label in rows if label == "Deprecation Warning"
                         and re.match(r"(\[?INFO\]?:? |\{\"level\":\"info\")", m)]
    fatal_errors = [m for _, m, label in rows if label == "Error" and "FATAL" in m[:12]]
    assert info_deprecations and fatal_errors


def test_wrapping_draws_from_its_own_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    wrapped = list(synthetic.generate(900, seed=9, part="train"))
    monkeypatch.setattr(synthetic, "FORMAT_SHARES", {"bare": 1.0})
    bare = list(synthetic.generate(900, seed=9, part="train"))
    assert [(s, label) for s, _, label in wrapped] == [(s, label) for s, _, label in bare]
    same = sum(w == b for (_, w, _), (_, b, _) in zip(wrapped, bare, strict=True))
    assert 0.3 < same / len(bare) < 0.5  # about FORMAT_SHARES["bare"] of lines untouched
    for (_, w, _), (_, b, _) in zip(wrapped, bare, strict=True):
        assert b in w or json.dumps(b)[1:-1] in w


def test_the_cli_writes_csv_that_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "synthetic.csv"
    assert synthetic.main(["--out", str(out), "--n", "180", "--seed", "4", "--part", "test"]) == 0
    with out.open(newline="", encoding="utf-8") as f:
        rows = [tuple(row.values()) for row in csv.DictReader(f)]
    assert rows == list(synthetic.generate(180, seed=4, part="test"))
