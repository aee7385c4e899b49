"""Turn the raw logs of collect.sh into datasets/real/real_logs.csv.

    .venv/bin/python datasets/real/build_dataset.py --raw /tmp/logclass-real.XXXX \
        [--labels datasets/real/labels.yaml] [--out datasets/real/real_logs.csv]

For every raw log file it knows, it strips the per-line prefix that the program did not
write as part of its message (syslog timestamp/tag/pid, postgres ``2026-... UTC [pid]``,
redis ``pid:M date *``, nginx ``date pid#tid: *cid``, ...) but keeps the level words that
belong to the message (postgres ``LOG:``/``ERROR:``, nginx ``[error]``, mariadb ``[Note]``);
access-log lines are kept whole. Each message is reduced to its template with
``processors.templates.mask``; the first line of each distinct (program, template) is kept
as its example and labelled by the first rule of labels.yaml whose program matches and
whose regex matches the message (``re.search``). Label ``ambiguous`` drops a template on
purpose; templates no rule matches are reported (and written to RAW/unlabelled.tsv) and
left out. Rules that matched nothing are reported too, so a run with other program
versions shows what to relabel.

Run from the repo root (it imports ``processors.templates``); stdlib + PyYAML (a project
dependency) only.
"""

from __future__ import annotations

import argparse
import collections
import csv
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import yaml  # noqa: E402  (project dependency)

from processors.templates import mask  # noqa: E402

LABELS = {
    "HTTP Status", "Security Alert", "User Action", "Resource Usage", "Critical Error",
    "Error", "Workflow Error", "Deprecation Warning", "System Notification",
}
DROP = "ambiguous"
HOST_REPLACEMENT = "loghost"
# Values derived from this machine's identity (not secrets, but not ours to publish either):
# MariaDB's server_uid is a hash of the machine's MAC address.
MACHINE_IDS = [
    (re.compile(r"(server_uid )[A-Za-z0-9+/]{27}="), r"\g<1>AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
]
SECRET_REPLACEMENT = "********"

# Syslog tags written through /dev/log that belong to the programs this recipe runs; any
# other tag (another process on the machine) is skipped and counted.
SYSLOG_PROGRAMS = {
    "sshd": "sshd", "cron": "cron", "crontab": "crontab", "vsftpd": "vsftpd",
    "useradd": "useradd", "usermod": "usermod", "userdel": "userdel", "chpasswd": "chpasswd",
    "groupadd": "groupadd", "groupdel": "groupdel", "gpasswd": "gpasswd", "su": "su",
    "runuser": "runuser",
    "internal-sftp": "sshd",  # sshd's built-in sftp server (Subsystem sftp internal-sftp)
}

_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
SYSLOG = re.compile(
    rf"^(?:<\d+>)?{_MON} [ \d]\d \d\d:\d\d:\d\d (?:\S+ )??"
    r"(?P<tag>[\w./-]+)(?:\[\d+\])?: (?P<msg>.*)$"
)
NGINX_ERROR = re.compile(
    r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (?P<level>\[\w+\]) \d+#\d+: (?:\*\d+ )?(?P<msg>.*)$"
)
NGINX_STDERR = re.compile(r"^nginx: (?P<msg>.*)$")
POSTGRES = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \w+ \[\d+\] (?P<msg>[A-Z]+:.*)$"
)
REDIS = re.compile(
    r"^\d+:(?:[XCSMR] \d\d? \w{3} \d{4} \d\d:\d\d:\d\d\.\d+ [.\-*#]|signal-handler \(\d+\))"
    r" (?P<msg>.*)$"
)
MARIADB = re.compile(r"^\d{4}-\d\d-\d\d +\d?\d:\d\d:\d\d(?: \d+)? (?P<msg>\[\w+\] .*)$")
MARIADB_SQLERR = re.compile(r"^\d{4}-\d\d-\d\d +\d?\d:\d\d:\d\d (?P<msg>.*)$")
VSFTPD = re.compile(rf"^{_DAY} {_MON} [ \d]\d \d\d:\d\d:\d\d \d{{4}} \[pid \d+\] (?P<msg>.*)$")
SQUID_CACHE = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?: kid\d+)?\| ?(?P<msg>.*)$")
HAPROXY_STDERR = re.compile(r"^(?P<level>\[(?:NOTICE|WARNING|ALERT)\]) +\(\d+\) : (?P<msg>.*)$")
DNSMASQ_STDERR = re.compile(r"^dnsmasq: (?P<msg>.*)$")


def _syslog(line: str, _program: str) -> tuple[str, str] | None:
    m = SYSLOG.match(line)
    if m is None:
        return None
    tag = m.group("tag").lower()
    program = SYSLOG_PROGRAMS.get(tag)
    if program is None:
        return ("?" + tag, m.group("msg"))
    return (program, m.group("msg"))


def _whole(line: str, program: str) -> tuple[str, str] | None:
    return (program, line)


def _nginx_error(line: str, program: str) -> tuple[str, str] | None:
    m = NGINX_ERROR.match(line) or None
    if m is not None:
        return (program, f"{m.group('level')} {m.group('msg')}")
    m = NGINX_STDERR.match(line)
    return (program, m.group("msg")) if m else None


def _postgres(line: str, program: str) -> tuple[str, str] | None:
    m = POSTGRES.match(line)
    if m is not None:
        return (program, m.group("msg"))
    if line.startswith("\t"):  # continuation of a multi-line message: its own line
        return (program, line.strip())
    return None


def _redis(line: str, program: str) -> tuple[str, str] | None:
    m = REDIS.match(line)
    if m is not None:
        return (program, m.group("msg"))
    # Lines without the prefix: the config-error report and early start-up warnings on stderr.
    if re.match(r"^\d+:[XCSMR] ", line):
        return None
    return (program, line)


def _regex(pattern: re.Pattern[str]):
    def parse(line: str, program: str) -> tuple[str, str] | None:
        m = pattern.match(line)
        return (program, m.group("msg")) if m else None
    return parse


def _haproxy(line: str, program: str) -> tuple[str, str] | None:
    m = HAPROXY_STDERR.match(line)
    if m is not None:
        return (program, f"{m.group('level')} {m.group('msg')}")
    return (program, line)


def _dnsmasq(line: str, program: str) -> tuple[str, str] | None:
    m = SYSLOG.match(line)
    if m is not None:
        return (program, m.group("msg"))
    m = DNSMASQ_STDERR.match(line)
    return (program, m.group("msg")) if m else None


def _mariadb(line: str, program: str) -> tuple[str, str] | None:
    m = MARIADB.match(line)
    return (program, m.group("msg")) if m else None


# (glob under RAW, program, parser). Files not listed (installer output, driver logs) are
# not program logs and are ignored.
SOURCES = [
    ("syslog/syslog.log", "syslog", _syslog),
    ("sshd/sshd.log", "sshd", _whole),
    ("sshd/sshd-t.log", "sshd", _whole),
    ("nginx/logs/access.log*", "nginx", _whole),
    ("nginx/logs/error.log*", "nginx", _nginx_error),
    ("nginx/logs/stderr.log", "nginx", _nginx_error),
    ("haproxy/haproxy.log", "haproxy", _haproxy),
    ("squid/cache.log*", "squid", _regex(SQUID_CACHE)),
    ("squid/access.log*", "squid", _whole),
    ("postgres/postgresql.log", "postgres", _postgres),
    ("redis/redis*.log", "redis", _redis),
    ("mariadb/error.log", "mariadb", _mariadb),
    ("mariadb/sql_errors.log", "mariadb", _regex(MARIADB_SQLERR)),
    ("vsftpd/vsftpd.log", "vsftpd", _regex(VSFTPD)),
    ("dnsmasq/dnsmasq*.log", "dnsmasq", _dnsmasq),
]


class Scrubber:
    """Replace this machine's host name and the run's secrets wherever they appear."""

    def __init__(self, raw: Path) -> None:
        names: set[str] = set()
        host_file = raw / "run" / "hostname"
        if host_file.exists():
            full = host_file.read_text().strip()
            if full:
                names.update({full, full.split(".")[0]})
        self.secrets = []
        secret_file = raw / "run" / "secrets"
        if secret_file.exists():
            self.secrets = [s for s in secret_file.read_text().split() if len(s) >= 8]
        # A host name as a whole token: not inside a word, a dotted key (vm.overcommit_memory)
        # or a path.
        self.hosts = [
            re.compile(rf"(?<![\w.\-/]){re.escape(n)}(?![\w\-/]|\.\w)")
            for n in sorted(names, key=len, reverse=True) if n and n != "localhost"
        ]

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, SECRET_REPLACEMENT)
        for pattern in self.hosts:
            text = pattern.sub(HOST_REPLACEMENT, text)
        for pattern, replacement in MACHINE_IDS:
            text = pattern.sub(replacement, text)
        return text


def read_messages(raw: Path, scrub: Scrubber):
    """(program, message) for every line of every known raw file, in a stable order."""
    skipped: collections.Counter[str] = collections.Counter()
    for pattern, program, parse in SOURCES:
        for path in sorted(raw.glob(pattern)):
            if not path.is_file():
                continue
            for raw_line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                line = raw_line.rstrip()
                if not line.strip():
                    continue
                parsed = parse(line, program)
                if parsed is None:
                    skipped[f"{path.relative_to(raw)}: no prefix match"] += 1
                    continue
                prog, message = parsed
                if prog.startswith("?"):
                    skipped[f"syslog tag {prog[1:]}"] += 1
                    continue
                message = scrub(message.strip())
                if message:
                    yield prog, message
    for what, n in sorted(skipped.items()):
        print(f"  skipped {n} line(s): {what}", file=sys.stderr)


def load_rules(path: Path) -> list[dict]:
    rules = yaml.safe_load(path.read_text()) or []
    out = []
    for i, rule in enumerate(rules):
        label = rule["label"]
        if label not in LABELS and label != DROP:
            raise SystemExit(f"{path}: rule {i}: unknown label {label!r}")
        out.append({
            "program": rule["program"], "match": rule["match"], "label": label,
            "re": re.compile(rule["match"]), "hits": 0, "index": i,
        })
    return out


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--raw", required=True, type=Path, help="raw log dir written by collect.sh")
    ap.add_argument("--labels", type=Path, default=here / "labels.yaml")
    ap.add_argument("--out", type=Path, default=here / "real_logs.csv")
    args = ap.parse_args(argv)

    raw = args.raw.resolve()
    scrub = Scrubber(raw)
    rules = load_rules(args.labels)

    examples: dict[tuple[str, str], str] = {}
    lines_per_program: collections.Counter[str] = collections.Counter()
    for program, message in read_messages(raw, scrub):
        lines_per_program[program] += 1
        key = (program, mask(message))
        examples.setdefault(key, message)

    rows, unlabelled, dropped = [], [], 0
    for (program, template), message in sorted(examples.items()):
        rule = next((r for r in rules
                     if r["program"] in (program, "*") and r["re"].search(message)), None)
        if rule is None:
            unlabelled.append((program, template, message))
            continue
        rule["hits"] += 1
        if rule["label"] == DROP:
            dropped += 1
            continue
        rows.append((program, message, rule["label"]))

    # Last line of defence: nothing secret may reach the data set.
    for _, message, _ in rows:
        for secret in scrub.secrets:
            if secret in message:
                raise SystemExit("a run secret survived scrubbing; refusing to write")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["source", "log_message", "target_label"])
        writer.writerows(rows)

    with (raw / "unlabelled.tsv").open("w", encoding="utf-8") as f:
        for program, template, message in unlabelled:
            f.write(f"{program}\t{template}\t{message}\n")

    per_program = collections.Counter(p for p, _, _ in rows)
    per_label = collections.Counter(label for _, _, label in rows)
    err = sys.stderr
    print(f"\nraw lines per program: {dict(sorted(lines_per_program.items()))}", file=err)
    print(f"distinct templates: {len(examples)}; labelled rows written: {len(rows)}; "
          f"dropped as ambiguous: {dropped}; unlabelled: {len(unlabelled)}", file=err)
    print("\n| program | templates |\n| --- | ---: |", file=err)
    for program, n in sorted(per_program.items()):
        print(f"| {program} | {n} |", file=err)
    print(f"| **total** | **{len(rows)}** |", file=err)
    print("\n| label | templates |\n| --- | ---: |", file=err)
    for label, n in sorted(per_label.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"| {label} | {n} |", file=err)
    if unlabelled:
        print(f"\nUNLABELLED templates (no rule in {args.labels.name}; left out):", file=err)
        for program, _template, message in unlabelled:
            print(f"  {program}\t{message}", file=err)
    stale = [r for r in rules if r["hits"] == 0]
    if stale:
        print(f"\nrules that matched no template this run ({len(stale)}):", file=err)
        for r in stale:
            print(f"  #{r['index']} {r['program']}: {r['match']}", file=err)
    print(f"\nwrote {args.out}", file=err)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
