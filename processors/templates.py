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

The rules themselves (patterns, word lists) are in ``processors.masking_rules``.
``RULES`` names the rules added after the first release and the Loghub systems looked at while
writing each; ``masker_without(names)`` is ``mask`` with those rules off, so that
``benchmarks/bench_masker.py`` can score each system with only the rules it did not shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from processors import masking_rules as rules
from processors.masking_rules import PLACEHOLDERS, RULES

__all__ = ["PLACEHOLDERS", "RULES", "mask", "masker_without"]



def _path(match: re.Match[str]) -> str:
    path = match.group()
    core = path.rstrip(".:")
    return "<PATH>" + path[len(core):]


def _key_value(match: re.Match[str]) -> str:
    key = match.group(1)
    name = rules.KEY_PART.split(key)[-1].lower()
    if name in rules.USER_KEYS:
        return key + "=<USER>"
    if name in rules.HOST_KEYS:
        return key + "=<HOST>"
    return match.group()


def _key_colon(match: re.Match[str]) -> str:
    name = rules.KEY_PART.split(match.group(2))[-1].lower()
    if name in rules.USER_KEYS:
        kind = "<USER>"
    elif name in rules.HOST_KEYS:
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
    if rules.HEXWORD.fullmatch(core):
        return "<HEX>"
    if core[0] not in "-_+" and len(rules.LONE_LOWER.findall(core)) >= 3:
        return "<SECRET>"
    if rules.JWT_OR_BASE64.fullmatch(core):  # "eyJ…" in three parts, or base64 with "+" inside
        return "<SECRET>"
    return None


def _quantity(match: re.Match[str]) -> str:
    return f"<{match.lastgroup}>"


def _user_word(match: re.Match[str]) -> str:
    name = match.group()[4:].lstrip(" ")
    quote = name[0] if name[0] in "\"'" else ""
    if name.strip("\"'").lower() in rules.NOT_A_USER:
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
    if name.lower() in rules.NOT_A_NAME or name.isdecimal():
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
    return core.rpartition(".")[2].lower() in rules.FILE_EXTENSIONS and core[0] != "."


def _is_cc_host(core: str) -> bool:
    """Three or more labels under a country domain (``proxy.cs.example.hk``)."""
    tld = core.rpartition(".")[2].lower()
    return tld in rules.CC_TLDS and rules.CC_HOST.fullmatch(core) is not None


def _number(core: str) -> str:
    """``<NUM>``, or ``<SIZE>``/``<DURATION>`` when a unit is attached (``64MB``, ``250ms``)."""
    number = rules.NUM.fullmatch(core)
    if number is None:
        return "<ID>"
    unit = number.group("unit")
    if unit is None:
        return "<NUM>"
    kind = rules.UNIT_KIND.fullmatch(unit)
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
            message = rules.URL.sub("<URL>", message)
        low = message.lower()
        if self.secrets:
            if (
                ("=" in message or ":" in message)
                and rules.may_hold_secret(low)
                and rules.SECRET_KEY_IN_LOWER.search(low) is not None
            ):
                if "cookie" in low:
                    message = rules.COOKIE.sub(_cookie, message)
                message = rules.SECRET.sub(_secret, message)
            if "bearer " in low or "basic " in low:
                message = rules.BEARER.sub(_bearer, message)
        if "@" in message:
            message = (rules.EMAIL if self.emails else rules.DOTTED_EMAIL).sub("<EMAIL>", message)
        if rules.CLOCK_HINT.search(message) is not None:
            message = rules.DATE.sub("<TIME>", message)
            if "<TIME>" in message:
                message = rules.DAY_BEFORE_TIME.sub("<TIME>", message)
        if "/" in message:
            message = rules.PATH.sub(_path, message)
        if "=" in message:
            message = rules.KEY_VALUE.sub(_key_value, message)
        if self.users:
            if (
                (": " in message or ":\"" in message)
                and rules.may_name_someone(low)
                and rules.NAME_KEY_IN_LOWER.search(low) is not None
            ):
                message = rules.KEY_COLON.sub(_key_colon, message)
            if " for " in message and (
                "log" in low or "pass" in low or "auth" in low or "sudo" in low or "cred" in low
            ):
                message = rules.FOR_NAME.sub(_named, message)
            if " by " in message:
                message = rules.BY_NAME.sub(_named, message)
                message = rules.BY_UID.sub(_named, message)
            if " as " in message:
                message = rules.AS_NAME.sub(_named, message)
            if "login " in low or "logon " in low:
                message = rules.LOGIN_NAME.sub(_named, message)
        if "ser " in message:
            if self.users:
                message = rules.USER_WORD.sub(_user_word, message)
            else:
                message = rules.FIRST_USER_WORD.sub(_first_user_word, message)
        if self.hosts and "localhost" in message:
            message = rules.LOCALHOST.sub("<HOST>", message)
        message = rules.TOKEN.sub(self._token, " " + message)[1:]
        if " from <" in message:
            message = rules.USER_BEFORE_ADDRESS.sub(_user_before_address, message)
        if "<NUM> " in message:
            message = rules.UNIT.sub(_quantity, message)
        if self.meaning and " <TIME>" in message:
            message = rules.ELAPSED.sub(_elapsed, message)
        if self.hosts and "[<IP>]:<NUM>" in message:
            message = rules.BRACKETED_PORT.sub("<HOST>", message)
        if self.hosts and ">:<NUM>" in message:
            message = rules.ADDRESS_PORT.sub(_address, message)
        if "> <" in message or ">, <" in message or ">,<" in message:
            message = rules.REPEATS.sub(_first_of_run, message)
        return rules.PAREN_VALUE.sub("(<VALUE>)", message) if "(" in message else message

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
            return lead + rules.DOT_LEADERS.sub(self._leader_piece, core) + tail
        if match.group(1) is None and rules.DIGIT.search(core) is None:
            # Digit-free: a path, a file or a host name, else a word.
            if "/" in core or "\\" in core:
                if lead == ">" and core[0] == "/" and core[1:].isalpha():
                    return lead_token  # "<NUM>/FAILURE", as masked
                if rules.PATH_TOKEN.fullmatch(core):
                    return lead + "<PATH>" + tail
            elif self.files and _is_file(core):
                return lead + "<PATH>" + tail
            elif rules.WORD_HOST.fullmatch(core) or self.hosts and _is_cc_host(core):
                return lead + "<HOST>" + tail
            elif self.secrets and len(core) >= 20:
                shape = _random_word(core)
                if shape is not None:
                    return lead + shape + tail
            return lead_token
        return lead + self._type_core(core) + tail

    def _leader_piece(self, match: re.Match[str]) -> str:
        piece = match.group()
        return piece if piece.startswith("...") else rules.TOKEN.sub(self._token, " " + piece)[1:]

    def _type_core(self, core: str) -> str:
        """The placeholder for a token that holds a digit."""
        if "/" in core or "\\" in core:
            return self._slashed(core)
        if ":" in core:
            if rules.TIME.fullmatch(core):
                return "<TIME>"
            if self.hosts and rules.MAC.fullmatch(core):
                return "<HOST>"
            if rules.IP.fullmatch(core):
                return self._address(core)
            return self._colon_pair(core) if self.hosts or self.meaning else "<ID>"
        if "." in core:
            if rules.IP.fullmatch(core):
                return "<IP>"
            if rules.NUM.fullmatch(core):
                return _number(core)
            if self.hosts and rules.CLASS_NAME.fullmatch(core):
                return core
            if self.files and _is_file(core):
                return "<PATH>"
            return "<HOST>" if rules.HOST.fullmatch(core) else "<ID>"
        if "-" in core:
            if rules.UUID.fullmatch(core):
                return "<UUID>"
            if rules.TIME.fullmatch(core):
                return "<TIME>"
            if self.hosts:
                if rules.MAC.fullmatch(core):
                    return "<HOST>"
                if (
                    rules.DASHED_HOST.fullmatch(core)
                    and core.split("-", 1)[0].rstrip("0123456789").lower() not in rules.DASHED_WORDS
                ):
                    return "<HOST>"
        if rules.HEX.fullmatch(core):
            return "<HEX>"
        return _number(core)

    def _address(self, ip: str) -> str:
        """An address with a port is an endpoint, ``<HOST>`` like a named one: a slot that
        holds ``1.2.3.4:80`` on one line and ``www.example.com:443`` on the next stays one
        template."""
        return "<HOST>" if self.hosts and rules.IPV4_PORT.fullmatch(ip) else "<IP>"

    def _slashed(self, core: str) -> str:
        if rules.IP.fullmatch(core):
            return self._address(core)
        version = rules.VERSION.fullmatch(core)
        if version is not None:  # HTTP/1.1, curl/8.5.0: the name is part of the event
            return version.group(1) + "<NUM>"
        if rules.TIME.fullmatch(core):
            return "<TIME>"
        if self.meaning and rules.SLASH_DATE.fullmatch(core):
            return "<TIME>"
        if self.hosts and core.count("/") == 1:  # Java's host/1.2.3.4:port
            name, _, address = core.partition("/")
            named = (
                rules.HOST.fullmatch(name) or rules.DASHED_HOST.fullmatch(name) or name.isalnum()
            )
            if rules.IP.fullmatch(address) and named:
                return self._address(address)
        if rules.PATH_TOKEN.fullmatch(core):
            return "<PATH>"
        if self.meaning and core.count("/") == 1:  # "1/FAILURE": the word is the event
            left, _, right = core.partition("/")
            if left.isalpha() and len(left) > 1 and rules.NUM.fullmatch(right):
                return f"{left}/{_number(right)}"
            if right.isalpha() and len(right) > 1 and rules.NUM.fullmatch(left):
                return f"{_number(left)}/{right}"
        return "<ID>"

    def _colon_pair(self, core: str) -> str:
        """``host:port`` → ``<HOST>``; ``key:value`` → ``key:<value's placeholder>``."""
        name, _, value = core.rpartition(":")
        if not name or ":" in name or not value:
            return "<ID>"
        if self.hosts and value.isdecimal() and len(value) <= 5:
            if rules.IP.fullmatch(name):
                return "<HOST>"
            if (
                (rules.HOST.fullmatch(name) and rules.DIGIT.search(name) is not None)
                or rules.WORD_HOST.fullmatch(name)
                or _is_cc_host(name)
                or rules.DASHED_HOST.fullmatch(name)
                or name.lower() == "localhost"
                or ("-" in name and name.islower() and "_" not in name)
            ):
                return "<HOST>"
        if (
            self.meaning
            and name[0].isalpha()
            and rules.DIGIT.search(name) is None
            and "." not in name
            and rules.DIGIT.search(value) is not None
        ):
            return f"{name}:{self._type_core(value)}"
        return "<ID>"


_FULL = _Masker()
mask: Callable[[str], str] = _FULL.mask


def masker_without(names: Iterable[str]) -> Callable[[str], str]:
    """``mask`` with the named ``RULES`` switched off (for held-out benchmarks)."""
    return _Masker(names).mask
