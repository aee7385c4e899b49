"""The masker's rule tables: the patterns, word lists and cheap pre-tests ``mask`` applies.

``processors.templates`` says what the rules are for (its docstring is the contract: what
becomes which placeholder, and what is guaranteed) and holds the engine that applies them;
this module holds the rules themselves, so that adding a host shape or a secret key name is
an edit here. Every pattern is linear-time by construction (possessive repeats, boundary
look-behinds, no nested quantifiers); ``tests/hardening/test_masker_linear_time.py`` checks
each one on adversarial input.
"""

from __future__ import annotations

import re

__all__ = [
    "ADDRESS_PORT",
    "AS_NAME",
    "BEARER",
    "BRACKETED_PORT",
    "BY_NAME",
    "BY_UID",
    "CC_HOST",
    "CC_TLDS",
    "CLASS_NAME",
    "CLOCK_HINT",
    "COOKIE",
    "DASHED_HOST",
    "DASHED_WORDS",
    "DATE",
    "DAY_BEFORE_TIME",
    "DIGIT",
    "DOTTED_EMAIL",
    "DOT_LEADERS",
    "ELAPSED",
    "EMAIL",
    "FILE_EXTENSIONS",
    "FIRST_USER_WORD",
    "FOR_NAME",
    "HEX",
    "HEXWORD",
    "HOST",
    "HOST_KEYS",
    "IP",
    "IPV4_PORT",
    "JWT_OR_BASE64",
    "KEY_COLON",
    "KEY_PART",
    "KEY_VALUE",
    "LOCALHOST",
    "LOGIN_NAME",
    "LONE_LOWER",
    "MAC",
    "NAME_KEY_IN_LOWER",
    "NOT_A_NAME",
    "NOT_A_USER",
    "NUM",
    "PAREN_VALUE",
    "PATH",
    "PATH_TOKEN",
    "PLACEHOLDERS",
    "REPEATS",
    "RULES",
    "SECRET",
    "SECRET_KEY_IN_LOWER",
    "SLASH_DATE",
    "TIME",
    "TOKEN",
    "UNIT",
    "UNIT_KIND",
    "URL",
    "USER_BEFORE_ADDRESS",
    "USER_KEYS",
    "USER_WORD",
    "UUID",
    "VERSION",
    "WORD_HOST",
    "may_hold_secret",
    "may_name_someone",
]

PLACEHOLDERS = frozenset({
    "<URL>", "<EMAIL>", "<TIME>", "<UUID>", "<IP>", "<HEX>", "<NUM>", "<PATH>", "<HOST>",
    "<SIZE>", "<DURATION>", "<ID>", "<USER>", "<VALUE>", "<SECRET>",
})

# rule name → (what it does, the Loghub systems whose lines were looked at while writing it).
# A rule written from hand-made lines only has no systems: every Loghub system is held out.
RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "hosts": ("host names, host:port, MAC, [IPv6]:port, host/ip:port, localhost", ()),
    "secrets": ("secret keys' values, Bearer/Basic credentials, digit-free random tokens", ()),
    "users": (
        "account names after for/by/as/login and a line-initial 'User', user keys with ':',"
        " stop-words kept", ("OpenSSH",),
    ),
    "meaning": ("key:value keeps its key, N/WORD keeps the word, slash dates, durations", ()),
    "files": ("file names with a well-known extension are <PATH>", ()),
    "emails": ("e-mail addresses under any domain, dotted or not", ()),
}

# Characters that end a token. ``<`` and ``>`` are among them, so placeholders are never
# re-masked; ``:`` and ``.`` are not (IP:port, host names) and are trimmed off a token's end.
_D = r"\s,;()\[\]{}<>\"'=|&`"
_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)(?<![A-Za-z]...)[a-z]*+"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)(?<![A-Za-z]...)[a-z]*+,? ++"
_CLOCK = r"\d{1,2}:\d\d(?::\d\d(?:[.,]\d+)?)?"

URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]{0,15}+://[^\s\"'<>]++")
# Any domain, dotted or not (``alice@localhost``); a domain starts with a letter, so Java's
# ``Object@1f2e3d`` identity hashes are left to the token rules.
EMAIL = re.compile(
    r"(?<![^\s<(\[\"'=:,;])[\w.+\-]++@[A-Za-z][A-Za-z0-9\-]*+(?:\.[A-Za-z0-9\-]++)*+"
)
DOTTED_EMAIL = re.compile(
    r"(?<![^\s<(\[\"'=:,;])[\w.+\-]++@[A-Za-z0-9\-]++(?:\.[A-Za-z0-9\-]++)++"
)
# "Sun Jul 17 23:21:54 2005", "Jul 17, 2005 23:21:54": day and month names are not words here.
DATE = re.compile(
    rf"{_MON}\s++\d{{1,2}},?\s++(?:\d{{4}}\s++)?{_CLOCK}(?:\s++\d{{4}}(?!\d))?"
)
DAY_BEFORE_TIME = re.compile(rf"{_DAY}<TIME>")
CLOCK_HINT = re.compile(r":\d\d")
# An absolute path, with its query string; a leading digit is left to the token rules (/1.2.3.4).
PATH = re.compile(r"/(?<![^\s\"'(\[=:,]/)(?=[^\s\d/])[^\s\"'<>()\[\]{},;]++")
def may_name_someone(low: str) -> bool:
    """Whether the lower-cased line may hold a user or host key (see ``may_hold_secret``)."""
    return (
        "user" in low or "host" in low or "login" in low or "account" in low or "addr" in low
        or "client" in low or "peer" in low or "src" in low or "dst" in low or "remote" in low
        or "logname" in low
    )  # fmt: skip


def may_hold_secret(low: str) -> bool:
    """Whether the lower-cased line names a secret at all: a chain of substring tests is
    several times cheaper than one case-insensitive alternation over every line."""
    return (
        "pass" in low or "pwd" in low or "secret" in low or "token" in low or "key" in low
        or "auth" in low or "bearer" in low or "cookie" in low or "session" in low
        or "cred" in low or "sid" in low
    )  # fmt: skip


# Secrets: a key whose name ends in a secret word, a separator, and its value. The value of a
# password-like key runs to the end of its clause (``password=hunter two``); of a cookie, to
# the end of the line; of a session id, one token.
_SECRET_NAMES = (
    "password", "passwd", "passphrase", "pwd", "secret", "token", "api_key", "api-key", "apikey",
    "authorization", "bearer", "credential", "credentials", "private_key", "private-key",
    "privatekey", "cookie", "session", "sessionid", "session_id", "session-id", "sid",
)  # fmt: skip
SECRET = re.compile(
    r"(?<![\w.\-])(?P<key>[A-Za-z][\w.\-]*+(?=[\"']?+[ \t]*+[=:])(?i:"
    + "|".join(f"(?<={name})" for name in _SECRET_NAMES)
    + r"))(?P<q>[\"']?+)(?P<sep>[ \t]*+[=:][ \t]*+(?:(?i:bearer|basic)[ \t]++)?+)"
    r"(?P<value>\"[^\"]*+\"|'[^']*+'|(?=[^\s<,;&|\"'])[^\s,;&|\"'<>]++"
    r"(?:[ \t]++(?![\w.\-]++[ \t]*+[=:])[^\s,;&|\"'<>]++)*+)"
)
# The same keys in the lower-cased line: a cheap test before the costlier pattern runs.
SECRET_KEY_IN_LOWER = re.compile(
    r"(?:pass(?:word|wd|phrase)|pwd|secret|token|key|authorization|bearer|credentials?|cookie"
    r"|session(?:[_\-]?id)?|sid)[\"']?[ \t]*[=:]"
)
COOKIE = re.compile(r"(?i)(?<![\w\-])((?:set-)?cookie[\"']?+[ \t]*+[:=][ \t]*+)(?=[^\s<])[^\n]++")
BEARER = re.compile(r"(?<![\w\-])(?:[Bb]earer|BEARER|Basic|basic) ++(?=[^\s<])[^\s,;\"'<>]++")
# A digit-free run of base64 letters that looks random (three lone lower-case letters between
# capitals); CamelCase words have runs of lower case.
LONE_LOWER = re.compile(r"(?:^|[^a-z])[a-z](?![a-z])")
HEXWORD = re.compile(r"[a-fA-F]{16,}+")
JWT_OR_BASE64 = re.compile(r"eyJ[\w\-]++\.[\w\-]++\.[\w\-]++|[A-Za-z/]++\+[A-Za-z+/]++={0,2}+")
# key=value; the callback masks the value when the key names an account or a machine.
KEY_VALUE = re.compile(rf"(?<![\w.\-])([A-Za-z][\w.\-]*+)=(?=[^\s<])[^{_D}]++")
KEY_PART = re.compile(r"[_.\-]")
USER_KEYS = frozenset({"user", "username", "login", "logname", "account", "ruser", "euser"})
HOST_KEYS = frozenset({
    "host", "hostname", "rhost", "shost", "dhost", "addr", "client", "peer", "src", "dst",
    "remote",
})
# The same keys written "key: value" (JSON, YAML, headers).
NAME_KEY_IN_LOWER = re.compile(
    r"(?:" + "|".join(sorted(USER_KEYS | HOST_KEYS)) + r")[\"']?:"
)
KEY_COLON = re.compile(
    r"(?<![\w.\-])([\"']?+)([A-Za-z][\w.\-]*+)(?=[\"']?+:)(?i:"
    + "|".join(f"(?<={name})" for name in sorted(USER_KEYS | HOST_KEYS))
    + r")\1:[ \t]*+([\"']?+)(?=[^\s<\"'])([^\s,;()\[\]{}<>\"'=|&]++)\3"
)
# Words that follow "user"/"for"/"by"/"as" and carry the event: they are not account names.
NOT_A_NAME = frozenset({
    "unknown", "invalid", "illegal", "none", "null", "nil", "empty", "not", "no", "all", "any",
    "every", "each", "this", "that", "the", "a", "an", "account", "accounts",
    "session", "sessions", "login", "logins", "authentication", "password", "request",
    "requests", "access", "more", "multiple", "existing", "new", "current", "same",
    "failed", "failure", "successful", "success", "succeeded", "ok", "attempt",
    "attempts", "denied", "incorrect", "refused", "timeout", "expired", "locked", "disabled",
    "from", "for", "by", "as", "on", "at", "to", "via", "with", "in", "is", "was", "has",
    "name", "id", "process", "mode", "space", "limit", "limits",
})  # fmt: skip
# After "user" itself almost any word is an account name ("Invalid user user", "user anonymous").
NOT_A_USER = frozenset({"unknown", "invalid", "illegal", "nonexistent", "not", "is", "was"})
USER_WORD = re.compile(
    r"[Uu]ser(?<![^\s\"'(\[][Uu]ser) ++(?:\"[^\"\s<]++\"|'[^'\s<]++'"
    r"|(?!<)[^\s,;:()\[\]{}<>\"'=]++(?=$| ?[\[(,;:]| (?:from|by|on|at|to|via|with|for|in|logged"
    r"|signed|authenticated|connected|disconnected|failed|successfully|does|did|is|was|has|not"
    r"|tried|attempted|exceeded|changed|created|deleted|added|removed|locked|unlocked|granted"
    r"|denied)\b))"
)
FIRST_USER_WORD = re.compile(
    r"[Uu]ser(?<=\S [Uu]ser) ++(?:\"[^\"\s<]++\"|'[^'\s<]++'"
    r"|(?!<)[^\s,;:()\[\]{}<>\"'=]++(?=$| (?:from|by|on|at|to|via|with|for|in)\b| ?[\[(,;:]))"
)
# "Login failed for alice", "Accepted password for root": only in a line about logging in.
FOR_NAME = re.compile(
    r" for (?!<)[^\s<>\[\](){}\"'=,;:]++(?=$| (?:from|on|at|via|port)\b|[,;:(\[]| \(|\.$)"
)
BY_NAME = re.compile(
    r"(?i)\b(?:initiated|requested|performed|triggered|issued|approved|changed"
    r"|modified|deleted|created|updated|granted|revoked|locked|unlocked|disabled|enabled|reset"
    r"|removed|added|killed|stopped|started|rebooted|logged out) by (?!<)"
    r"[^\s<>\[\](){}\"'=,;:]++(?=$|[ ,;:(\[.])"
)
BY_UID = re.compile(r" by (?!<)[^\s<>\[\](){}\"'=,;:]++(?=\(uid=)")
AS_NAME = re.compile(
    r"(?i)\b(?:logged in|signed in|log in|login|logon|authenticated|running|sudo) as "
    r"(?!<)[^\s<>\[\](){}\"'=,;:]++(?=$|[ ,;:(\[.])"
)
LOGIN_NAME = re.compile(r"(?i)\blog(?:in|on) (?!<)[^\s<>\[\](){}\"'=,;:]++(?= from\b|$)")
LOCALHOST = re.compile(r"(?<![\w.\-])localhost(?![\w\-])(?!\.\w)")
# A delimiter, then a token that holds a digit (group 1 set), or a slash, a backslash or an
# inner dot. Starting with the delimiter lets the engine skip ahead fast (mask() prefixes a
# space so that the first token has one).
TOKEN = re.compile(
    rf"[{_D}][^{_D}\d/.\\]*+(?:(\d)|[/\\]|\.(?=[^{_D}])|(?<=[^{_D}]{{20}}))[^{_D}]*+"
)
DIGIT = re.compile(r"\d")
# Token shapes, tried in _type_core after cheap character checks pick the few that can apply.
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
TIME = re.compile(
    rf"\d{{4}}-\d\d-\d\d(?:[T ]{_CLOCK})?(?:Z|[+\-]\d\d:?\d\d)?|{_CLOCK}"
    rf"|\d{{1,2}}/{_MON}/\d{{4}}(?::{_CLOCK})?"
)
SLASH_DATE = re.compile(r"\d{4}/\d{1,2}/\d{1,2}|\d{1,2}/\d{1,2}/(?:\d\d){1,2}")
IP = re.compile(
    r"/?\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?"
    r"|\[?[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}\]?(?::\d{1,5})?"
)
IPV4_PORT = re.compile(r"/?\d{1,3}(?:\.\d{1,3}){3}:\d{1,5}")
MAC = re.compile(r"[0-9a-fA-F]{2}([:\-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}")
# Long hex blobs (hashes, addresses; zero-padded if all digits); 0x literals are numbers.
HEX = re.compile(r"(?=[0-9a-fA-F]*[a-fA-F]|0)[0-9a-fA-F]{8,}")
NUM = re.compile(
    r"[-+]?(?:0[xX][0-9a-fA-F]++|\d++(?:\.\d++)?(?:[eE][-+]?\d++)?(?P<unit>[A-Za-z%µ]{1,7})?)"
)
_SIZE_UNITS = r"[kKMGTPE]i?[Bb]|[Bb]|bytes?"
_DURATION_UNITS = r"[mnuµ]s|s|secs?|seconds?|min|mins|minutes?|h|hours?|days?"
UNIT_KIND = re.compile(rf"(?P<SIZE>{_SIZE_UNITS})|(?P<DURATION>{_DURATION_UNITS})")
VERSION = re.compile(r"([A-Za-z][A-Za-z_\-]*+/)\d[\w.\-]*+")
HOST = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9\-]*+\.)++[A-Za-z][A-Za-z\-]*+")
# "node-12", "bgl-r12-m0", "tbird-admin1": letters, then dash-separated short parts with a digit.
DASHED_HOST = re.compile(r"[A-Za-z]{2,}+\d*+(?:-(?:[A-Za-z]++\d*+|\d{1,4}+))++")
# Dashed names that are standards, not machines: they carry meaning and are kept.
DASHED_WORDS = frozenset({"utf", "iso", "sha", "aes", "rsa", "ecdsa", "x", "ucs", "tls", "md"})
PATH_TOKEN = re.compile(
    r"(?:[A-Za-z]:|~|\.\.?)?[/\\][^/\\]++(?:[/\\][^/\\]*+)*+|[^/\\]++(?:[/\\][^/\\]*+){2,}"
)
# A digit-free dotted name is a host only under a well-known top-level domain; otherwise it is
# more likely a config key or a class name (``mapred.task.id``, ``n.leader``) and is kept.
# Country domains need three labels (``proxy.cs.example.hk``), so ``a.de`` stays a word.
WORD_HOST = re.compile(
    r"(?i)[a-z][a-z\-]*+(?:\.[a-z][a-z\-]*+)*?"
    r"(?:\.(?:com|net|org|edu|gov|mil|int|info|biz|io|local|localdomain|internal|lan|arpa|corp"
    r"|home|intranet|cloud|dev)(?:\.[a-z]{2})?|\.(?:ac|co)\.[a-z]{2})"
)
CC_HOST = re.compile(r"[A-Za-z][A-Za-z\-]*+(?:\.[A-Za-z][A-Za-z\-]*+){2,}+")
CC_TLDS = frozenset({
    "uk", "de", "fr", "jp", "cn", "hk", "tw", "kr", "ru", "br", "in", "au", "ca", "nl",
    "se", "no", "fi", "dk", "it", "es", "ch", "at", "be", "cz", "ie", "il", "nz", "sg",
    "us", "eu", "za", "mx", "ar", "pt", "gr", "hu", "ro", "tr", "ua",
})  # fmt: skip
# File names end in an extension no class or config key ends in.
FILE_EXTENSIONS = frozenset({
    "exe", "dll", "sys", "log", "txt", "conf", "cfg", "ini", "json", "xml", "yaml", "yml",
    "jar", "war", "py", "js", "sh", "bat", "ps1", "pid", "sock", "tmp", "bak", "gz", "tgz",
    "zip", "tar", "bz2", "xz", "msi", "cab", "mum", "manifest", "plist", "dylib", "kext",
    "db", "sqlite", "csv", "pem", "crt", "key", "png", "jpg", "jpeg", "gif", "pdf", "doc",
    "docx", "xls", "xlsx", "htm", "html", "php", "so", "lock", "out", "err", "dat", "bin",
    "img", "iso", "rpm", "deb", "apk", "dmp", "etl", "evtx",
})  # fmt: skip
# Reverse-DNS names (``org.apache.hadoop.mapreduce.v2.app.MRAppMaster``) are classes, not hosts.
CLASS_NAME = re.compile(
    r"(?:org|com|net|io|java|javax|android|androidx|dalvik|sun|jdk|scala|akka|kotlin)"
    r"(?:\.[A-Za-z_$][\w$]*+){2,}+"
)
DOT_LEADERS = re.compile(r"\.{3,}+|(?:[^.]++|\.{1,2}+(?!\.))++")
# "Failed password for root from <IP>": the word between "for" and an address is an account.
USER_BEFORE_ADDRESS = re.compile(r" for (?!<)[^\s<>\[\](){}\"'=,;:]++ from <(IP|HOST)>")
# A unit written after a number types it: "512 KB" and "3 B" are one <SIZE> slot.
UNIT = re.compile(rf"<NUM> (?:(?P<SIZE>{_SIZE_UNITS})|(?P<DURATION>{_DURATION_UNITS}))\b")
# A clock after these words is how long something took, not when.
ELAPSED = re.compile(r"(?i)\b(lifetime|uptime|elapsed|duration|runtime|took|spent) <TIME>")
BRACKETED_PORT = re.compile(r"\[<IP>\]:<NUM>")
ADDRESS_PORT = re.compile(r"<(HOST|IP)>:<NUM>")
PAREN_VALUE = re.compile(r"\((?<!\S.)(?:<[A-Z]+>)?\)")
REPEATS = re.compile(r"(<[A-Z]+>)(?:(?:, ?| )\1)++")
