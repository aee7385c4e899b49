"""Turn a log line into its template: variable tokens become typed placeholders.

``mask("User 42 logged in from 10.0.0.5")`` → ``"User <NUM> logged in from <IP>"``.

The template is the cache key of every model tier, so two goals pull against each other:
lines of different events must never share a template (purity), and lines of one event
should (compression). The rules are generic, not tuned to any one system:

* every token that holds a digit is a variable, typed by its shape: ``<UUID>``, ``<TIME>``,
  ``<IP>``, ``<HEX>``, ``<NUM>``, ``<SIZE>`` (``64MB``), ``<DURATION>`` (``250ms``),
  ``<HOST>``, ``<PATH>``, else ``<ID>`` (``blk_-42``);
* URLs, e-mail addresses, absolute paths (with their query string), written-out dates, and
  host names under a well-known top-level domain are variables even without a digit;
* account and machine names are variables whatever they look like, so they never reach a
  model: the value of ``user=``/``rhost=``-style keys, the word after "user", and the word
  in "for X from <address>";
* a unit after a number (``512 KB``), an empty or one-variable ``(...)`` group, and a run of
  repeated placeholders (lists of ids) are folded, so variable-length values share a template.

Plain words are kept, because they carry the event: ``state=FAILED``, ``'hlt'`` and
``service 'sparkDriver'`` stay as written; quoted strings are masked token by token, not
wholesale (they often name a state or a service).

Guarantees: stateless and thread-safe; idempotent (``mask(mask(x)) == mask(x)``); time
linear in the line length (possessive quantifiers, boundary look-behinds, no nested
repeats); never raises on a ``str``.
"""

from __future__ import annotations

import re

__all__ = ["PLACEHOLDERS", "mask"]

PLACEHOLDERS = frozenset({
    "<URL>", "<EMAIL>", "<TIME>", "<UUID>", "<IP>", "<HEX>", "<NUM>", "<PATH>", "<HOST>",
    "<SIZE>", "<DURATION>", "<ID>", "<USER>", "<VALUE>",
})

# Characters that end a token. ``<`` and ``>`` are among them, so placeholders are never
# re-masked; ``:`` and ``.`` are not (IP:port, host names) and are trimmed off a token's end.
_D = r"\s,;()\[\]{}<>\"'=|&`"
_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)(?<![A-Za-z]...)[a-z]*+"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)(?<![A-Za-z]...)[a-z]*+,? ++"
_CLOCK = r"\d{1,2}:\d\d(?::\d\d(?:[.,]\d+)?)?"

_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]{0,15}+://[^\s\"'<>]++")
_EMAIL = re.compile(r"(?<![^\s<(\[\"'=:,;])[\w.+\-]++@[A-Za-z0-9\-]++(?:\.[A-Za-z0-9\-]++)++")
# "Sun Jul 17 23:21:54 2005", "Jul 17, 2005 23:21:54": day and month names are not words here.
_DATE = re.compile(
    rf"{_MON}\s++\d{{1,2}},?\s++(?:\d{{4}}\s++)?{_CLOCK}(?:\s++\d{{4}}(?!\d))?"
)
_DAY_BEFORE_TIME = re.compile(rf"{_DAY}<TIME>")
_CLOCK_HINT = re.compile(r":\d\d")
# An absolute path, with its query string; a leading digit is left to the token rules (/1.2.3.4).
_PATH = re.compile(r"/(?<![^\s\"'(\[=:,]/)(?=[^\s\d/])[^\s\"'<>()\[\]{},;]++")
# key=value; the callback masks the value when the key names an account or a machine.
_KEY_VALUE = re.compile(rf"(?<![\w.\-])([A-Za-z][\w.\-]*+)=(?=[^\s<])[^{_D}]++")
_KEY_PART = re.compile(r"[_.\-]")
_USER_KEYS = frozenset({"user", "username", "login", "logname", "account", "ruser", "euser"})
_HOST_KEYS = frozenset({
    "host", "hostname", "rhost", "shost", "dhost", "addr", "client", "peer", "src", "dst",
    "remote",
})
_USER_WORD = re.compile(
    r"[Uu]ser(?<=\S [Uu]ser) ++(?:\"[^\"\s<]++\"|'[^'\s<]++'"
    r"|(?!<)[^\s,;:()\[\]{}<>\"'=]++(?=$| (?:from|by|on|at|to|via|with|for|in)\b| ?[\[(,;:]))"
)
# A delimiter, then a token that holds a digit (group 1 set), or a slash, a backslash or an
# inner dot. Starting with the delimiter lets the engine skip ahead fast (mask() prefixes a
# space so that the first token has one).
_TOKEN = re.compile(rf"[{_D}][^{_D}\d/.\\]*+(?:(\d)|[/\\]|\.(?=[^{_D}]))[^{_D}]*+")
_DIGIT = re.compile(r"\d")
# Token shapes, tried in _type_core after cheap character checks pick the few that can apply.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TIME = re.compile(
    rf"\d{{4}}-\d\d-\d\d(?:[T ]{_CLOCK})?(?:Z|[+\-]\d\d:?\d\d)?|{_CLOCK}"
    rf"|\d{{1,2}}/{_MON}/\d{{4}}(?::{_CLOCK})?"
)
_IP = re.compile(
    r"/?\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?"
    r"|\[?[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}\]?(?::\d{1,5})?"
)
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
_PATH_TOKEN = re.compile(
    r"(?:[A-Za-z]:|~|\.\.?)?[/\\][^/\\]++(?:[/\\][^/\\]*+)*+|[^/\\]++(?:[/\\][^/\\]*+){2,}"
)
# A digit-free dotted name is a host only under a well-known top-level domain; otherwise it is
# more likely a config key or a class name (``mapred.task.id``, ``n.leader``) and is kept.
_WORD_HOST = re.compile(
    r"(?i)[a-z][a-z\-]*+(?:\.[a-z][a-z\-]*+)*?"
    r"(?:\.(?:com|net|org|edu|gov|mil|int|info|biz|io|local|localdomain|internal|lan|arpa)"
    r"(?:\.[a-z]{2})?|\.(?:ac|co)\.[a-z]{2})"
)
_DOT_LEADERS = re.compile(r"\.{3,}+|(?:[^.]++|\.{1,2}+(?!\.))++")
# "Failed password for root from <IP>": the word between "for" and an address is an account.
_USER_BEFORE_ADDRESS = re.compile(r" for (?!<)[^\s<>\[\](){}\"'=,;:]++ from <(IP|HOST)>")
# A unit written after a number types it: "512 KB" and "3 B" are one <SIZE> slot.
_UNIT = re.compile(rf"<NUM> (?:(?P<SIZE>{_SIZE_UNITS})|(?P<DURATION>{_DURATION_UNITS}))\b")
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


def _token(match: re.Match[str]) -> str:
    lead_token = match.group()
    lead, token = lead_token[0], lead_token[1:]
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
    if "..." in core:  # dot leaders ("depth.......0") separate a word from its value
        return lead + _DOT_LEADERS.sub(_leader_piece, core) + tail
    if match.group(1) is None and _DIGIT.search(core) is None:
        # Digit-free: a path or a host name, else a word.
        if "/" in core or "\\" in core:
            if _PATH_TOKEN.fullmatch(core):
                return lead + "<PATH>" + tail
        elif _WORD_HOST.fullmatch(core):
            return lead + "<HOST>" + tail
        return lead_token
    return lead + _type_core(core) + tail


def _type_core(core: str) -> str:
    """The placeholder for a token that holds a digit."""
    if "/" in core or "\\" in core:
        if _IP.fullmatch(core):
            return "<IP>"
        version = _VERSION.fullmatch(core)
        if version is not None:  # HTTP/1.1, curl/8.5.0: the name is part of the event
            return version.group(1) + "<NUM>"
        if _TIME.fullmatch(core):
            return "<TIME>"
        return "<PATH>" if _PATH_TOKEN.fullmatch(core) else "<ID>"
    if ":" in core:
        if _TIME.fullmatch(core):
            return "<TIME>"
        return "<IP>" if _IP.fullmatch(core) else "<ID>"
    if "." in core:
        if _IP.fullmatch(core):
            return "<IP>"
        if _NUM.fullmatch(core):
            return _number(core)
        return "<HOST>" if _HOST.fullmatch(core) else "<ID>"
    if "-" in core:
        if _UUID.fullmatch(core):
            return "<UUID>"
        if _TIME.fullmatch(core):
            return "<TIME>"
    if _HEX.fullmatch(core):
        return "<HEX>"
    return _number(core)


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


def _quantity(match: re.Match[str]) -> str:
    return f"<{match.lastgroup}>"


def _leader_piece(match: re.Match[str]) -> str:
    piece = match.group()
    return piece if piece.startswith("...") else _TOKEN.sub(_token, " " + piece)[1:]


def _user_word(match: re.Match[str]) -> str:
    name = match.group()[4:].lstrip(" ")
    quote = name[0] if name[0] in "\"'" else ""
    return f"{match.group()[:4]} {quote}<USER>{quote}"


def _user_before_address(match: re.Match[str]) -> str:
    return f" for <USER> from <{match.group(1)}>"


def _first_of_run(match: re.Match[str]) -> str:
    return match.group(1)


def mask(message: str) -> str:
    """The template of ``message``; idempotent (``mask(mask(x)) == mask(x)``), never raises."""
    if "://" in message:
        message = _URL.sub("<URL>", message)
    if "@" in message:
        message = _EMAIL.sub("<EMAIL>", message)
    if _CLOCK_HINT.search(message) is not None:
        message = _DATE.sub("<TIME>", message)
        if "<TIME>" in message:
            message = _DAY_BEFORE_TIME.sub("<TIME>", message)
    if "/" in message:
        message = _PATH.sub(_path, message)
    if "=" in message:
        message = _KEY_VALUE.sub(_key_value, message)
    if "ser " in message:
        message = _USER_WORD.sub(_user_word, message)
    message = _TOKEN.sub(_token, " " + message)[1:]
    if " from <" in message:
        message = _USER_BEFORE_ADDRESS.sub(_user_before_address, message)
    if "<NUM> " in message:
        message = _UNIT.sub(_quantity, message)
    if "> <" in message or ">, <" in message or ">,<" in message:
        message = _REPEATS.sub(_first_of_run, message)
    return _PAREN_VALUE.sub("(<VALUE>)", message) if "(" in message else message
