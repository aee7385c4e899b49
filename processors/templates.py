"""Turn a log line into its template: variable tokens become typed placeholders.

``mask("User 42 logged in from 10.0.0.5")`` → ``"User <NUM> logged in from <IP>"``.

The template is the cache key for every model tier, so two rules pull against each other:
lines of different events must never share a template (purity), and lines of one event
should (compression). The rules are generic, not tuned to any one system: every token that
holds a digit is a variable (typed: IP, UUID, hex, number, time, path, host, …); so are
URLs, e-mail addresses, paths, dotted host names, timestamps, the values of identity keys
(``user=root``) and the name after "user". Plain words are kept, because they carry the
event: ``state=FAILED``, ``'hlt'``, ``service 'sparkDriver'`` stay as written.

Guarantees: stateless and thread-safe; idempotent (``mask(mask(x)) == mask(x)``); linear
time in the line length (possessive quantifiers, no nested repeats); never raises on a str.
"""

from __future__ import annotations

import re

__all__ = ["PLACEHOLDERS", "mask"]

PLACEHOLDERS = (
    "<URL>", "<EMAIL>", "<TIME>", "<UUID>", "<IP>", "<HEX>", "<NUM>", "<PATH>", "<HOST>",
    "<ID>", "<USER>", "<VALUE>",
)

# Characters that end a token. ``<`` and ``>`` are among them, so placeholders are never
# re-masked; ``:`` and ``.`` are not (IP:port, host names), and are trimmed off a token's end.
_DELIMS = r"\s,;()\[\]{}<>\"'=|&`"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_CLOCK = r"\d{1,2}:\d\d(?::\d\d(?:[.,]\d+)?)?"

_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]{0,15}://[^\s\"'<>]++")
_EMAIL = re.compile(r"(?<![^\s<(\[\"'=:,;])[\w.+\-]++@[A-Za-z0-9\-]++(?:\.[A-Za-z0-9\-]++)++")
# Written-out dates, where day and month names would otherwise survive as words.
_DATE = re.compile(
    rf"\b(?:{_DAY},?\s+)?{_MON}\s+\d{{1,2}},?\s+(?:\d{{4}}\s+)?{_CLOCK}(?:\s+\d{{4}}\b)?"
    rf"|\b\d{{1,2}}[/\-]{_MON}[/\-]\d{{4}}[:\sT]{_CLOCK}(?:\s*[+\-]\d{{4}})?"
)
# A token containing a digit, a slash, a dot or a backslash, starting at a token boundary.
_TOKEN = re.compile(rf"(?<![^{_DELIMS}])[^{_DELIMS}]*?[\d/.\\][^{_DELIMS}]*+")
# Values that name a person or a machine are variables whatever they look like.
_USER_VALUE = re.compile(
    r"(?i)\b((?:r|e|s)?(?:user(?:name)?|login|logname|account|uid)(?:=|:\s?))"
    rf"(?=[^\s<])[^{_DELIMS}]++"
)
_HOST_VALUE = re.compile(
    rf"(?i)\b((?:r|s|d)?(?:host(?:name)?|addr|client|peer|src|dst)(?:=|:\s?))(?=[^\s<])[^{_DELIMS}]++"
)
_USER_WORD = re.compile(
    r"(?<=\S )([Uu]ser) ++(?!<)[^\s,;:()\[\]{}<>\"'=]++"
    r"(?=$| (?:from|by|on|at|to|via|with|for|in)\b| ?[\[(,;:])"
)
# "... for root from 10.0.0.5": the word between "for" and an address names the account.
_USER_BEFORE_ADDRESS = re.compile(r"(?<= for )(?!<)[^\s<>\[\](){}\"'=,;:]++(?= from <(?:IP|HOST)>)")
# A unit written after a number belongs to it ("512 KB" and "3 B" are one slot).
_UNIT = re.compile(
    r"(?<=<NUM>) (?:[KMGTP]i?B|B|bytes?|[mun]s|µs|secs?|seconds?|minutes?|mins?|hours?)\b"
)
# An absolute path, with its query string; a leading digit is left to the token rules (/1.2.3.4).
_PATH = re.compile(r"(?<![^\s\"'(\[=:,])(?:~|\.\.?)?/(?=[^\s\d/])[^\s\"'<>()\[\]{},;]++")
# A standalone bracket group that is empty or holds one variable is itself one variable.
_BRACKETED = re.compile(r"(?<!\S)(?:\((?:<[A-Z]+>)?\)|\[(?:<[A-Z]+>)?\])")
_REPEATS = re.compile(r"(<[A-Z]+>)(?:(?:, ?| )\1)++")

_TYPED = re.compile(
    r"(?P<UUID>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    rf"|(?P<TIME>\d{{4}}-\d\d-\d\d(?:[T ]{_CLOCK})?(?:Z|[+\-]\d\d:?\d\d)?|{_CLOCK})"
    r"|(?P<IP>/?\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?"
    r"|\[?[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}\]?(?::\d{1,5})?)"
    # Long hex blobs (hashes, addresses; zero-padded if all digits); 0x literals are numbers.
    r"|(?P<HEX>(?=[0-9a-fA-F]*[a-fA-F]|0)[0-9a-fA-F]{8,})"
    r"|(?P<NUM>[-+]?(?:0[xX][0-9a-fA-F]++|\d++(?:\.\d++)?(?:[eE][-+]?\d++)?(?:[A-Za-z%]{1,3})?))"
    r"|(?P<HOST>(?:[A-Za-z0-9][A-Za-z0-9\-]*+\.)++[A-Za-z][A-Za-z\-]*+)"
    r"|(?P<PATH>(?:[A-Za-z]:)?[/\\][^/\\]++(?:[/\\][^/\\]*+)*+|[^/\\]++(?:[/\\][^/\\]*+){2,})"
)
# A digit-free dotted name is a host only under a well-known top-level domain; otherwise it is
# more likely a config key or a class name (``mapred.task.id``, ``n.leader``) and is kept.
_ALPHA_HOST = re.compile(
    r"(?i)[a-z][a-z\-]*+(?:\.[a-z][a-z\-]*+)*?"
    r"(?:\.(?:com|net|org|edu|gov|mil|int|info|biz|io|local|localdomain|internal|lan|arpa)"
    r"(?:\.[a-z]{2})?|\.(?:ac|co)\.[a-z]{2})"
)
_DOT_LEADERS = re.compile(r"\.{2,}+|(?:[^.]|\.(?!\.))++")
_NAME_VERSION = re.compile(r"([A-Za-z][\w\-]*+/)\d[\w.\-]*+")


def _typed_path(match: re.Match[str]) -> str:
    path = match.group()
    core = path.rstrip(".:")
    return "<PATH>" + path[len(core):]


def _type_token(match: re.Match[str]) -> str:
    token = match.group()
    core = token.rstrip(".:")
    tail = token[len(core):]
    if not core:
        return token
    if ".." in core:  # dot leaders ("depth.......0") separate a word from its value
        return _DOT_LEADERS.sub(lambda m: m.group() if m.group()[0] == "." else _type_token(m),
                                core) + tail
    if not any(c.isdigit() for c in core):
        # Digit-free tokens are words unless they are a path or an all-lowercase dotted name.
        if ("/" in core or "\\" in core) and len(core) > 1:
            typed = _TYPED.fullmatch(core)
            if typed is not None and typed.lastgroup == "PATH":
                return "<PATH>" + tail
        elif _ALPHA_HOST.fullmatch(core):
            return "<HOST>" + tail
        return token
    version = _NAME_VERSION.fullmatch(core)
    if version is not None:
        return version.group(1) + "<NUM>" + tail
    typed = _TYPED.fullmatch(core)
    return f"<{typed.lastgroup}>{tail}" if typed is not None else "<ID>" + tail


def mask(message: str) -> str:
    """The template of ``message``; idempotent (``mask(mask(x)) == mask(x)``), never raises."""
    message = _URL.sub("<URL>", message)
    message = _EMAIL.sub("<EMAIL>", message)
    message = _DATE.sub("<TIME>", message)
    message = _PATH.sub(_typed_path, message)
    message = _USER_VALUE.sub(r"\1<USER>", message)
    message = _HOST_VALUE.sub(r"\1<HOST>", message)
    message = _USER_WORD.sub(r"\1 <USER>", message)
    message = _TOKEN.sub(_type_token, message)
    message = _USER_BEFORE_ADDRESS.sub("<USER>", message)
    message = _BRACKETED.sub(lambda m: m.group()[0] + "<VALUE>" + m.group()[-1], message)
    message = _UNIT.sub("<NUM>", message)
    return _REPEATS.sub(r"\1", message)
