"""Turn a log line into its template: variable tokens become typed placeholders.

``mask("User 42 logged in from 10.0.0.5")`` → ``"User <NUM> logged in from <IP>"``.

The template is the cache key of every model tier and the only text a model sees, so three
goals pull against each other: lines of different events must never share a template
(purity), lines of one event should (compression), and nothing private may survive
(privacy). The rules are generic, not tuned to any one system:

* every token that holds a digit is a variable, typed by its shape: ``<UUID>``, ``<TIME>``,
  ``<IP>``, ``<HEX>``, ``<NUM>``, ``<SIZE>`` (``64MB``), ``<DURATION>`` (``250ms``),
  ``<HOST>``, ``<PATH>``, else ``<ID>`` (``blk_-42``);
* URLs, e-mail addresses (any domain), absolute paths (with their query string), written-out
  dates and file names with a well-known extension are variables even without a digit;
* machines are ``<HOST>`` or ``<IP>`` whatever their form: dotted names under a generic or
  country top-level domain, ``host:port``, ``name-12``-style names, ``localhost``, MAC
  addresses, ``[IPv6]:port``, Java's ``host/1.2.3.4:port``;
* account names are ``<USER>`` whatever they look like: the value of ``user=``/``login:``-style
  keys, the word after "user", after "for" in a login line, after "by" an actor, after
  "logged in as" — unless the word is one that carries the event (``user unknown``);
* secrets are ``<SECRET>``: the value of password/token/api-key/authorization/cookie/session-
  like keys in ``key=value``, ``key: value`` and JSON, and a ``Bearer``/``Basic`` credential;
  long random-looking tokens (hex, base64, JWT) are variables by shape;
* a ``key:value`` token keeps its key (``total-vm:<SIZE>``) and a ``1/FAILURE`` its word;
* a unit after a number (``512 KB``), an empty or one-variable ``(...)`` group, and a run of
  repeated placeholders (lists of ids) are folded, so variable-length values share a template;
  a clock after "took"/"lifetime"/"uptime" is a ``<DURATION>``.

Plain words are kept, because they carry the event: ``state=FAILED``, ``'hlt'`` and
``service 'sparkDriver'`` stay as written; quoted strings are masked token by token, not
wholesale (they often name a state or a service). Java class names and config keys
(``org.apache.hadoop.fs.Path``, ``mapred.task.id``) are words, not hosts.

Guarantees: stateless and thread-safe; idempotent (``mask(mask(x)) == mask(x)``); time
linear in the line length (possessive quantifiers, boundary look-behinds, no nested
repeats); never raises on a ``str``.

``RULES`` names the rules added after the first release and the Loghub systems looked at while
writing each; ``masker_without(names)`` is ``mask`` with those rules off, so that
``benchmarks/bench_masker.py`` can score each system with only the rules it did not shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

__all__ = ["PLACEHOLDERS", "RULES", "mask", "masker_without"]

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

_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]{0,15}+://[^\s\"'<>]++")
# Any domain, dotted or not (``alice@localhost``); a domain starts with a letter, so Java's
# ``Object@1f2e3d`` identity hashes are left to the token rules.
_EMAIL = re.compile(
    r"(?<![^\s<(\[\"'=:,;])[\w.+\-]++@[A-Za-z][A-Za-z0-9\-]*+(?:\.[A-Za-z0-9\-]++)*+"
)
_DOTTED_EMAIL = re.compile(
    r"(?<![^\s<(\[\"'=:,;])[\w.+\-]++@[A-Za-z0-9\-]++(?:\.[A-Za-z0-9\-]++)++"
)
# "Sun Jul 17 23:21:54 2005", "Jul 17, 2005 23:21:54": day and month names are not words here.
_DATE = re.compile(
    rf"{_MON}\s++\d{{1,2}},?\s++(?:\d{{4}}\s++)?{_CLOCK}(?:\s++\d{{4}}(?!\d))?"
)
_DAY_BEFORE_TIME = re.compile(rf"{_DAY}<TIME>")
_CLOCK_HINT = re.compile(r":\d\d")
# An absolute path, with its query string; a leading digit is left to the token rules (/1.2.3.4).
_PATH = re.compile(r"/(?<![^\s\"'(\[=:,]/)(?=[^\s\d/])[^\s\"'<>()\[\]{},;]++")
# Secrets: a key whose name ends in a secret word, a separator, and its value. The value of a
# password-like key runs to the end of its clause (``password=hunter two``); of a cookie, to
# the end of the line; of a session id, one token.
def _may_name_someone(low: str) -> bool:
    """Whether the lower-cased line may hold a user or host key (see ``_may_hold_secret``)."""
    return (
        "user" in low or "host" in low or "login" in low or "account" in low or "addr" in low
        or "client" in low or "peer" in low or "src" in low or "dst" in low or "remote" in low
        or "logname" in low
    )  # fmt: skip


def _may_hold_secret(low: str) -> bool:
    """Whether the lower-cased line names a secret at all: a chain of substring tests is
    several times cheaper than one case-insensitive alternation over every line."""
    return (
        "pass" in low or "pwd" in low or "secret" in low or "token" in low or "key" in low
        or "auth" in low or "bearer" in low or "cookie" in low or "session" in low
        or "cred" in low or "sid" in low
    )  # fmt: skip


_SECRET_NAMES = (
    "password", "passwd", "passphrase", "pwd", "secret", "token", "api_key", "api-key", "apikey",
    "authorization", "bearer", "credential", "credentials", "private_key", "private-key",
    "privatekey", "cookie", "session", "sessionid", "session_id", "session-id", "sid",
)  # fmt: skip
_SECRET = re.compile(
    r"(?<![\w.\-])(?P<key>[A-Za-z][\w.\-]*+(?=[\"']?+[ \t]*+[=:])(?i:"
    + "|".join(f"(?<={name})" for name in _SECRET_NAMES)
    + r"))(?P<q>[\"']?+)(?P<sep>[ \t]*+[=:][ \t]*+(?:(?i:bearer|basic)[ \t]++)?+)"
    r"(?P<value>\"[^\"]*+\"|'[^']*+'|(?=[^\s<,;&|\"'])[^\s,;&|\"'<>]++"
    r"(?:[ \t]++(?![\w.\-]++[ \t]*+[=:])[^\s,;&|\"'<>]++)*+)"
)
# The same keys in the lower-cased line: a cheap test before the costlier pattern runs.
_SECRET_KEY_IN_LOWER = re.compile(
    r"(?:pass(?:word|wd|phrase)|pwd|secret|token|key|authorization|bearer|credentials?|cookie"
    r"|session(?:[_\-]?id)?|sid)[\"']?[ \t]*[=:]"
)
_COOKIE = re.compile(r"(?i)(?<![\w\-])((?:set-)?cookie[\"']?+[ \t]*+[:=][ \t]*+)(?=[^\s<])[^\n]++")
_BEARER = re.compile(r"(?<![\w\-])(?:[Bb]earer|BEARER|Basic|basic) ++(?=[^\s<])[^\s,;\"'<>]++")
# A digit-free run of base64 letters that looks random (three lone lower-case letters between
# capitals); CamelCase words have runs of lower case.
_LONE_LOWER = re.compile(r"(?:^|[^a-z])[a-z](?![a-z])")
_HEXWORD = re.compile(r"[a-fA-F]{16,}+")
_JWT_OR_BASE64 = re.compile(r"eyJ[\w\-]++\.[\w\-]++\.[\w\-]++|[A-Za-z/]++\+[A-Za-z+/]++={0,2}+")
# key=value; the callback masks the value when the key names an account or a machine.
_KEY_VALUE = re.compile(rf"(?<![\w.\-])([A-Za-z][\w.\-]*+)=(?=[^\s<])[^{_D}]++")
_KEY_PART = re.compile(r"[_.\-]")
_USER_KEYS = frozenset({"user", "username", "login", "logname", "account", "ruser", "euser"})
_HOST_KEYS = frozenset({
    "host", "hostname", "rhost", "shost", "dhost", "addr", "client", "peer", "src", "dst",
    "remote",
})
# The same keys written "key: value" (JSON, YAML, headers).
_NAME_KEY_IN_LOWER = re.compile(
    r"(?:" + "|".join(sorted(_USER_KEYS | _HOST_KEYS)) + r")[\"']?:"
)
_KEY_COLON = re.compile(
    r"(?<![\w.\-])([\"']?+)([A-Za-z][\w.\-]*+)(?=[\"']?+:)(?i:"
    + "|".join(f"(?<={name})" for name in sorted(_USER_KEYS | _HOST_KEYS))
    + r")\1:[ \t]*+([\"']?+)(?=[^\s<\"'])([^\s,;()\[\]{}<>\"'=|&]++)\3"
)
# Words that follow "user"/"for"/"by"/"as" and carry the event: they are not account names.
_NOT_A_NAME = frozenset({
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
_NOT_A_USER = frozenset({"unknown", "invalid", "illegal", "nonexistent", "not", "is", "was"})
_USER_WORD = re.compile(
    r"[Uu]ser(?<![^\s\"'(\[][Uu]ser) ++(?:\"[^\"\s<]++\"|'[^'\s<]++'"
    r"|(?!<)[^\s,;:()\[\]{}<>\"'=]++(?=$| ?[\[(,;:]| (?:from|by|on|at|to|via|with|for|in|logged"
    r"|signed|authenticated|connected|disconnected|failed|successfully|does|did|is|was|has|not"
    r"|tried|attempted|exceeded|changed|created|deleted|added|removed|locked|unlocked|granted"
    r"|denied)\b))"
)
_FIRST_USER_WORD = re.compile(
    r"[Uu]ser(?<=\S [Uu]ser) ++(?:\"[^\"\s<]++\"|'[^'\s<]++'"
    r"|(?!<)[^\s,;:()\[\]{}<>\"'=]++(?=$| (?:from|by|on|at|to|via|with|for|in)\b| ?[\[(,;:]))"
)
# "Login failed for alice", "Accepted password for root": only in a line about logging in.
_FOR_NAME = re.compile(
    r" for (?!<)[^\s<>\[\](){}\"'=,;:]++(?=$| (?:from|on|at|via|port)\b|[,;:(\[]| \(|\.$)"
)
_BY_NAME = re.compile(
    r"(?i)\b(?:initiated|requested|performed|triggered|issued|approved|changed"
    r"|modified|deleted|created|updated|granted|revoked|locked|unlocked|disabled|enabled|reset"
    r"|removed|added|killed|stopped|started|rebooted|logged out) by (?!<)"
    r"[^\s<>\[\](){}\"'=,;:]++(?=$|[ ,;:(\[.])"
)
_BY_UID = re.compile(r" by (?!<)[^\s<>\[\](){}\"'=,;:]++(?=\(uid=)")
_AS_NAME = re.compile(
    r"(?i)\b(?:logged in|signed in|log in|login|logon|authenticated|running|sudo) as "
    r"(?!<)[^\s<>\[\](){}\"'=,;:]++(?=$|[ ,;:(\[.])"
)
_LOGIN_NAME = re.compile(r"(?i)\blog(?:in|on) (?!<)[^\s<>\[\](){}\"'=,;:]++(?= from\b|$)")
_LOCALHOST = re.compile(r"(?<![\w.\-])localhost(?![\w\-])(?!\.\w)")
# A delimiter, then a token that holds a digit (group 1 set), or a slash, a backslash or an
# inner dot. Starting with the delimiter lets the engine skip ahead fast (mask() prefixes a
# space so that the first token has one).
_TOKEN = re.compile(
    rf"[{_D}][^{_D}\d/.\\]*+(?:(\d)|[/\\]|\.(?=[^{_D}])|(?<=[^{_D}]{{20}}))[^{_D}]*+"
)
_DIGIT = re.compile(r"\d")
# Token shapes, tried in _type_core after cheap character checks pick the few that can apply.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TIME = re.compile(
    rf"\d{{4}}-\d\d-\d\d(?:[T ]{_CLOCK})?(?:Z|[+\-]\d\d:?\d\d)?|{_CLOCK}"
    rf"|\d{{1,2}}/{_MON}/\d{{4}}(?::{_CLOCK})?"
)
_SLASH_DATE = re.compile(r"\d{4}/\d{1,2}/\d{1,2}|\d{1,2}/\d{1,2}/(?:\d\d){1,2}")
_IP = re.compile(
    r"/?\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?"
    r"|\[?[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}\]?(?::\d{1,5})?"
)
_IPV4_PORT = re.compile(r"/?\d{1,3}(?:\.\d{1,3}){3}:\d{1,5}")
_MAC = re.compile(r"[0-9a-fA-F]{2}([:\-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}")
# Long hex blobs (hashes, addresses; zero-padded if all digits); 0x literals are numbers.
_HEX = re.compile(r"(?=[0-9a-fA-F]*[a-fA-F]|0)[0-9a-fA-F]{8,}")
_NUM = re.compile(
    r"[-+]?(?:0[xX][0-9a-fA-F]++|\d++(?:\.\d++)?(?:[eE][-+]?\d++)?(?P<unit>[A-Za-z%µ]{1,7})?)"
)
_SIZE_UNITS = r"[kKMGTPE]i?[Bb]|[Bb]|bytes?"
_DURATION_UNITS = r"[mnuµ]s|s|secs?|seconds?|min|mins|minutes?|h|hours?|days?"
_UNIT_KIND = re.compile(rf"(?P<SIZE>{_SIZE_UNITS})|(?P<DURATION>{_DURATION_UNITS})")
_VERSION = re.compile(r"([A-Za-z][A-Za-z_\-]*+/)\d[\w.\-]*+")
_HOST = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9\-]*+\.)++[A-Za-z][A-Za-z\-]*+")
# "node-12", "bgl-r12-m0", "tbird-admin1": letters, then dash-separated short parts with a digit.
_DASHED_HOST = re.compile(r"[A-Za-z]{2,}+\d*+(?:-(?:[A-Za-z]++\d*+|\d{1,4}+))++")
# Dashed names that are standards, not machines: they carry meaning and are kept.
_DASHED_WORDS = frozenset({"utf", "iso", "sha", "aes", "rsa", "ecdsa", "x", "ucs", "tls", "md"})
_PATH_TOKEN = re.compile(
    r"(?:[A-Za-z]:|~|\.\.?)?[/\\][^/\\]++(?:[/\\][^/\\]*+)*+|[^/\\]++(?:[/\\][^/\\]*+){2,}"
)
# A digit-free dotted name is a host only under a well-known top-level domain; otherwise it is
# more likely a config key or a class name (``mapred.task.id``, ``n.leader``) and is kept.
# Country domains need three labels (``proxy.cs.example.hk``), so ``a.de`` stays a word.
_WORD_HOST = re.compile(
    r"(?i)[a-z][a-z\-]*+(?:\.[a-z][a-z\-]*+)*?"
    r"(?:\.(?:com|net|org|edu|gov|mil|int|info|biz|io|local|localdomain|internal|lan|arpa|corp"
    r"|home|intranet|cloud|dev)(?:\.[a-z]{2})?|\.(?:ac|co)\.[a-z]{2})"
)
_CC_HOST = re.compile(r"[A-Za-z][A-Za-z\-]*+(?:\.[A-Za-z][A-Za-z\-]*+){2,}+")
_CC_TLDS = frozenset({
    "uk", "de", "fr", "jp", "cn", "hk", "tw", "kr", "ru", "br", "in", "au", "ca", "nl",
    "se", "no", "fi", "dk", "it", "es", "ch", "at", "be", "cz", "ie", "il", "nz", "sg",
    "us", "eu", "za", "mx", "ar", "pt", "gr", "hu", "ro", "tr", "ua",
})  # fmt: skip
# File names end in an extension no class or config key ends in.
_FILE_EXTENSIONS = frozenset({
    "exe", "dll", "sys", "log", "txt", "conf", "cfg", "ini", "json", "xml", "yaml", "yml",
    "jar", "war", "py", "js", "sh", "bat", "ps1", "pid", "sock", "tmp", "bak", "gz", "tgz",
    "zip", "tar", "bz2", "xz", "msi", "cab", "mum", "manifest", "plist", "dylib", "kext",
    "db", "sqlite", "csv", "pem", "crt", "key", "png", "jpg", "jpeg", "gif", "pdf", "doc",
    "docx", "xls", "xlsx", "htm", "html", "php", "so", "lock", "out", "err", "dat", "bin",
    "img", "iso", "rpm", "deb", "apk", "dmp", "etl", "evtx",
})  # fmt: skip
# Reverse-DNS names (``org.apache.hadoop.mapreduce.v2.app.MRAppMaster``) are classes, not hosts.
_CLASS_NAME = re.compile(
    r"(?:org|com|net|io|java|javax|android|androidx|dalvik|sun|jdk|scala|akka|kotlin)"
    r"(?:\.[A-Za-z_$][\w$]*+){2,}+"
)
_DOT_LEADERS = re.compile(r"\.{3,}+|(?:[^.]++|\.{1,2}+(?!\.))++")
# "Failed password for root from <IP>": the word between "for" and an address is an account.
_USER_BEFORE_ADDRESS = re.compile(r" for (?!<)[^\s<>\[\](){}\"'=,;:]++ from <(IP|HOST)>")
# A unit written after a number types it: "512 KB" and "3 B" are one <SIZE> slot.
_UNIT = re.compile(rf"<NUM> (?:(?P<SIZE>{_SIZE_UNITS})|(?P<DURATION>{_DURATION_UNITS}))\b")
# A clock after these words is how long something took, not when.
_ELAPSED = re.compile(r"(?i)\b(lifetime|uptime|elapsed|duration|runtime|took|spent) <TIME>")
_BRACKETED_PORT = re.compile(r"\[<IP>\]:<NUM>")
_ADDRESS_PORT = re.compile(r"<(HOST|IP)>:<NUM>")
_PAREN_VALUE = re.compile(r"\((?<!\S.)(?:<[A-Z]+>)?\)")
_REPEATS = re.compile(r"(<[A-Z]+>)(?:(?:, ?| )\1)++")


def _path(match: re.Match[str]) -> str:
    path = match.group()
    core = path.rstrip(".:")
    return "<PATH>" + path[len(core):]


def _key_value(match: re.Match[str]) -> str:
    key = match.group(1)
    name = _KEY_PART.split(key)[-1].lower()
    if name in _USER_KEYS:
        return key + "=<USER>"
    if name in _HOST_KEYS:
        return key + "=<HOST>"
    return match.group()


def _key_colon(match: re.Match[str]) -> str:
    name = _KEY_PART.split(match.group(2))[-1].lower()
    if name in _USER_KEYS:
        kind = "<USER>"
    elif name in _HOST_KEYS:
        kind = "<HOST>"
    else:
        return match.group()
    whole, value = match.group(), match.group(4)
    start = match.start(4) - match.start()
    return whole[:start] + kind + whole[start + len(value):]


def _secret(match: re.Match[str]) -> str:
    key, quote, sep, value = match.group("key", "q", "sep", "value")
    name = key.lower()
    if name.endswith(("cookie", "session", "sessionid", "session_id", "session-id", "sid")):
        if value[0] in "\"'":
            return f"{key}{quote}{sep}{value[0]}<SECRET>{value[0]}"
        if name.endswith("cookie"):
            return f"{key}{quote}{sep}<SECRET>"
        first = value.split(None, 1)
        return f"{key}{quote}{sep}<SECRET>" + value[len(first[0]):]
    if value[0] in "\"'":
        return f"{key}{quote}{sep}{value[0]}<SECRET>{value[0]}"
    return f"{key}{quote}{sep}<SECRET>"


def _cookie(match: re.Match[str]) -> str:
    return match.group(1) + "<SECRET>"


def _bearer(match: re.Match[str]) -> str:
    return match.group().split(None, 1)[0] + " <SECRET>"


def _random_word(core: str) -> str | None:
    """``<HEX>``/``<SECRET>`` for a long digit-free token that looks random, else None."""
    if _HEXWORD.fullmatch(core):
        return "<HEX>"
    if core[0] not in "-_+" and len(_LONE_LOWER.findall(core)) >= 3:
        return "<SECRET>"
    if _JWT_OR_BASE64.fullmatch(core):  # "eyJ…" in three parts, or base64 with "+" inside
        return "<SECRET>"
    return None


def _quantity(match: re.Match[str]) -> str:
    return f"<{match.lastgroup}>"


def _user_word(match: re.Match[str]) -> str:
    name = match.group()[4:].lstrip(" ")
    quote = name[0] if name[0] in "\"'" else ""
    if name.strip("\"'").lower() in _NOT_A_USER:
        return match.group()
    return f"{match.group()[:4]} {quote}<USER>{quote}"


def _first_user_word(match: re.Match[str]) -> str:
    name = match.group()[4:].lstrip(" ")
    quote = name[0] if name[0] in "\"'" else ""
    return f"{match.group()[:4]} {quote}<USER>{quote}"


def _named(match: re.Match[str]) -> str:
    """``<word> X`` → ``<word> <USER>`` unless X is a word that carries the event."""
    text = match.group()
    head, _, name = text.rpartition(" ")
    if name.lower() in _NOT_A_NAME or name.isdecimal():
        return text
    return f"{head} <USER>"


def _user_before_address(match: re.Match[str]) -> str:
    return f" for <USER> from <{match.group(1)}>"


def _address(match: re.Match[str]) -> str:
    return "<HOST>"


def _first_of_run(match: re.Match[str]) -> str:
    return match.group(1)


def _elapsed(match: re.Match[str]) -> str:
    return match.group(1) + " <DURATION>"


def _is_file(core: str) -> bool:
    """``cbs.log``, ``chrome.exe``: a name with a well-known file extension."""
    return core.rpartition(".")[2].lower() in _FILE_EXTENSIONS and core[0] != "."


def _is_cc_host(core: str) -> bool:
    """Three or more labels under a country domain (``proxy.cs.example.hk``)."""
    return core.rpartition(".")[2].lower() in _CC_TLDS and _CC_HOST.fullmatch(core) is not None


def _number(core: str) -> str:
    """``<NUM>``, or ``<SIZE>``/``<DURATION>`` when a unit is attached (``64MB``, ``250ms``)."""
    number = _NUM.fullmatch(core)
    if number is None:
        return "<ID>"
    unit = number.group("unit")
    if unit is None:
        return "<NUM>"
    kind = _UNIT_KIND.fullmatch(unit)
    return "<NUM>" if kind is None else f"<{kind.lastgroup}>"


class _Masker:
    """``mask`` with a chosen set of the ``RULES`` switched on."""

    def __init__(self, off: Iterable[str] = ()) -> None:
        off = frozenset(off)
        unknown = off - RULES.keys()
        if unknown:
            raise ValueError(f"unknown masker rules {sorted(unknown)}; known: {sorted(RULES)}")
        self.hosts = "hosts" not in off
        self.secrets = "secrets" not in off
        self.users = "users" not in off
        self.meaning = "meaning" not in off
        self.files = "files" not in off
        self.emails = "emails" not in off

    def mask(self, message: str) -> str:
        """The template of ``message``; idempotent (``mask(mask(x)) == mask(x)``), never raises."""
        if "://" in message:
            message = _URL.sub("<URL>", message)
        low = message.lower()
        if self.secrets:
            if (
                ("=" in message or ":" in message)
                and _may_hold_secret(low)
                and _SECRET_KEY_IN_LOWER.search(low) is not None
            ):
                if "cookie" in low:
                    message = _COOKIE.sub(_cookie, message)
                message = _SECRET.sub(_secret, message)
            if "bearer " in low or "basic " in low:
                message = _BEARER.sub(_bearer, message)
        if "@" in message:
            message = (_EMAIL if self.emails else _DOTTED_EMAIL).sub("<EMAIL>", message)
        if _CLOCK_HINT.search(message) is not None:
            message = _DATE.sub("<TIME>", message)
            if "<TIME>" in message:
                message = _DAY_BEFORE_TIME.sub("<TIME>", message)
        if "/" in message:
            message = _PATH.sub(_path, message)
        if "=" in message:
            message = _KEY_VALUE.sub(_key_value, message)
        if self.users:
            if (
                (": " in message or ":\"" in message)
                and _may_name_someone(low)
                and _NAME_KEY_IN_LOWER.search(low) is not None
            ):
                message = _KEY_COLON.sub(_key_colon, message)
            if " for " in message and (
                "log" in low or "pass" in low or "auth" in low or "sudo" in low or "cred" in low
            ):
                message = _FOR_NAME.sub(_named, message)
            if " by " in message:
                message = _BY_NAME.sub(_named, message)
                message = _BY_UID.sub(_named, message)
            if " as " in message:
                message = _AS_NAME.sub(_named, message)
            if "login " in low or "logon " in low:
                message = _LOGIN_NAME.sub(_named, message)
        if "ser " in message:
            if self.users:
                message = _USER_WORD.sub(_user_word, message)
            else:
                message = _FIRST_USER_WORD.sub(_first_user_word, message)
        if self.hosts and "localhost" in message:
            message = _LOCALHOST.sub("<HOST>", message)
        message = _TOKEN.sub(self._token, " " + message)[1:]
        if " from <" in message:
            message = _USER_BEFORE_ADDRESS.sub(_user_before_address, message)
        if "<NUM> " in message:
            message = _UNIT.sub(_quantity, message)
        if self.meaning and " <TIME>" in message:
            message = _ELAPSED.sub(_elapsed, message)
        if self.hosts and "[<IP>]:<NUM>" in message:
            message = _BRACKETED_PORT.sub("<HOST>", message)
        if self.hosts and ">:<NUM>" in message:
            message = _ADDRESS_PORT.sub(_address, message)
        if "> <" in message or ">, <" in message or ">,<" in message:
            message = _REPEATS.sub(_first_of_run, message)
        return _PAREN_VALUE.sub("(<VALUE>)", message) if "(" in message else message

    def _token(self, match: re.Match[str]) -> str:
        lead_token = match.group()
        lead, token = lead_token[0], lead_token[1:]
        if lead == "<" and self.meaning and token[:1].isdigit():
            lead = ""  # "<1 sec", "<5ms": a bound, typed as its number
        if token.isdecimal():  # the common case first: a plain integer
            return lead + ("<HEX>" if len(token) >= 8 and token[0] == "0" else "<NUM>")
        if token[0] == ":" and token[1:2] != ":":  # "status":200 in JSON
            lead, token = lead + ":", token[1:]
            if not token:
                return lead_token
        core, tail = token, ""
        if token[-1] in ".:":
            core = token.rstrip(".:")
            tail = token[len(core):]
            if not core:
                return lead_token
        if "..." in core:  # dot leaders ("depth.......0") separate a word from its value
            return lead + _DOT_LEADERS.sub(self._leader_piece, core) + tail
        if match.group(1) is None and _DIGIT.search(core) is None:
            # Digit-free: a path, a file or a host name, else a word.
            if "/" in core or "\\" in core:
                if lead == ">" and core[0] == "/" and core[1:].isalpha():
                    return lead_token  # "<NUM>/FAILURE", as masked
                if _PATH_TOKEN.fullmatch(core):
                    return lead + "<PATH>" + tail
            elif self.files and _is_file(core):
                return lead + "<PATH>" + tail
            elif _WORD_HOST.fullmatch(core) or self.hosts and _is_cc_host(core):
                return lead + "<HOST>" + tail
            elif self.secrets and len(core) >= 20:
                shape = _random_word(core)
                if shape is not None:
                    return lead + shape + tail
            return lead_token
        return lead + self._type_core(core) + tail

    def _leader_piece(self, match: re.Match[str]) -> str:
        piece = match.group()
        return piece if piece.startswith("...") else _TOKEN.sub(self._token, " " + piece)[1:]

    def _type_core(self, core: str) -> str:
        """The placeholder for a token that holds a digit."""
        if "/" in core or "\\" in core:
            return self._slashed(core)
        if ":" in core:
            if _TIME.fullmatch(core):
                return "<TIME>"
            if self.hosts and _MAC.fullmatch(core):
                return "<HOST>"
            if _IP.fullmatch(core):
                return self._address(core)
            return self._colon_pair(core) if self.hosts or self.meaning else "<ID>"
        if "." in core:
            if _IP.fullmatch(core):
                return "<IP>"
            if _NUM.fullmatch(core):
                return _number(core)
            if self.hosts and _CLASS_NAME.fullmatch(core):
                return core
            if self.files and _is_file(core):
                return "<PATH>"
            return "<HOST>" if _HOST.fullmatch(core) else "<ID>"
        if "-" in core:
            if _UUID.fullmatch(core):
                return "<UUID>"
            if _TIME.fullmatch(core):
                return "<TIME>"
            if self.hosts:
                if _MAC.fullmatch(core):
                    return "<HOST>"
                if (
                    _DASHED_HOST.fullmatch(core)
                    and core.split("-", 1)[0].rstrip("0123456789").lower() not in _DASHED_WORDS
                ):
                    return "<HOST>"
        if _HEX.fullmatch(core):
            return "<HEX>"
        return _number(core)

    def _address(self, ip: str) -> str:
        """An address with a port is an endpoint, ``<HOST>`` like a named one: a slot that
        holds ``1.2.3.4:80`` on one line and ``www.example.com:443`` on the next stays one
        template."""
        return "<HOST>" if self.hosts and _IPV4_PORT.fullmatch(ip) else "<IP>"

    def _slashed(self, core: str) -> str:
        if _IP.fullmatch(core):
            return self._address(core)
        version = _VERSION.fullmatch(core)
        if version is not None:  # HTTP/1.1, curl/8.5.0: the name is part of the event
            return version.group(1) + "<NUM>"
        if _TIME.fullmatch(core):
            return "<TIME>"
        if self.meaning and _SLASH_DATE.fullmatch(core):
            return "<TIME>"
        if self.hosts and core.count("/") == 1:  # Java's host/1.2.3.4:port
            name, _, address = core.partition("/")
            if _IP.fullmatch(address) and (_HOST.fullmatch(name) or _DASHED_HOST.fullmatch(name)
                                           or name.isalnum()):
                return self._address(address)
        if _PATH_TOKEN.fullmatch(core):
            return "<PATH>"
        if self.meaning and core.count("/") == 1:  # "1/FAILURE": the word is the event
            left, _, right = core.partition("/")
            if left.isalpha() and len(left) > 1 and _NUM.fullmatch(right):
                return f"{left}/{_number(right)}"
            if right.isalpha() and len(right) > 1 and _NUM.fullmatch(left):
                return f"{_number(left)}/{right}"
        return "<ID>"

    def _colon_pair(self, core: str) -> str:
        """``host:port`` → ``<HOST>``; ``key:value`` → ``key:<value's placeholder>``."""
        name, _, value = core.rpartition(":")
        if not name or ":" in name or not value:
            return "<ID>"
        if self.hosts and value.isdecimal() and len(value) <= 5:
            if _IP.fullmatch(name):
                return "<HOST>"
            if (
                (_HOST.fullmatch(name) and _DIGIT.search(name) is not None)
                or _WORD_HOST.fullmatch(name)
                or _is_cc_host(name)
                or _DASHED_HOST.fullmatch(name)
                or name.lower() == "localhost"
                or ("-" in name and name.islower() and "_" not in name)
            ):
                return "<HOST>"
        if (
            self.meaning
            and name[0].isalpha()
            and _DIGIT.search(name) is None
            and "." not in name
            and _DIGIT.search(value) is not None
        ):
            return f"{name}:{self._type_core(value)}"
        return "<ID>"


_FULL = _Masker()
mask: Callable[[str], str] = _FULL.mask


def masker_without(rules: Iterable[str]) -> Callable[[str], str]:
    """``mask`` with the named ``RULES`` switched off (for held-out benchmarks)."""
    return _Masker(rules).mask
