"""Shipper bodies as events: recognise the framing, decode within the line limit.

Framings: a JSON array of objects (``json_array``), NDJSON or concatenated objects
(``ndjson``), one JSON object (``object``), and plain text, one event per line (``text``).
The declared Content-Type decides whether the body may hold structured events at all: a
``text/plain`` (or form, or any non-JSON) body is text lines even where a line looks like
JSON, so a cross-origin browser POST, which can only send such types without a preflight,
cannot inject structured events downstream. Within a JSON type the body picks the JSON
framing; with no Content-Type at all the body decides, as before. A body is only refused
as malformed when it is a broken JSON array.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Framing",
    "Declared",
    "EventBatch",
    "MalformedBatch",
    "TooManyEvents",
    "NESTED_TOO_DEEPLY",
    "declared_framing",
    "parse_events",
]

Framing = Literal["json_array", "ndjson", "object", "text"]
Declared = Literal["json", "ndjson", "text"]
NESTED_TOO_DEEPLY = "is nested too deeply (more levels than JSON decoding allows)"

_decoder = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\r\n]*")
_JSON_OPENING = re.compile(r'[\[{][ \t\r\n]*["{\[\]}]')
_LINE = re.compile(r"[^\r\n]+")  # not str.splitlines(): U+2028, \x1c, \x85 are inside a line
# Vector newline_delimited and Fluent Bit json_lines send application/x-ndjson; the others
# are what JSON Lines writers use.
_NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonl",
        "application/jsonlines",
        "application/x-jsonlines",
        "application/json-seq",
    }
)


class MalformedBatch(ValueError):
    """The body is evidently JSON and broken; the message says where (400)."""


class TooManyEvents(ValueError):
    """More events than ``LOGCLASS_MAX_LINES``, found while decoding (413)."""

    def __init__(self, limit: int, what: str = "events") -> None:
        super().__init__(
            f"too many {what}: more than {limit} sent, at most {limit} per request "
            "(LOGCLASS_MAX_LINES)"
        )


@dataclass(slots=True)
class EventBatch:
    """Events as they came (every field kept), and how they were framed.

    ``malformed``: positions of lines that broke the JSON framing, carried on as text events
    (``{"message": <the line>}``) so that nothing is lost and the batch still goes through.
    """

    framing: Framing
    events: list[dict[str, Any]]
    malformed: list[int] = field(default_factory=list)


def declared_framing(content_type: str | None) -> Declared | None:
    """What a Content-Type allows: ``json`` (``application/json``, ``…+json``), ``ndjson``
    (``application/x-ndjson``, ``application/jsonl`` and alike), ``text`` (anything else:
    ``text/plain``, forms, unknown types); None when there is none (the body decides).

    Only the media type counts (``text/plain; charset=utf-8`` is ``text/plain``), as for a
    browser deciding whether a request is "simple".
    """
    if content_type is None or not content_type.strip():
        return None
    essence = content_type.split(";", 1)[0].strip().lower()
    if essence in _NDJSON_TYPES:
        return "ndjson"
    if essence == "application/json" or (
        essence.startswith("application/") and essence.endswith("+json")
    ):
        return "json"
    return "text"


def parse_events(
    body: bytes, content_type: str | None, max_events: int | None = None
) -> EventBatch:
    """The events of a body; raises MalformedBatch only for a broken JSON array.

    The Content-Type (see :func:`declared_framing`) decides first. ``text``: one event per
    non-blank line, ``{"message": <line>}``, never parsed, even where a line is JSON.
    ``ndjson``: one event per line (``{..}{..}`` on a line too). ``json``, or no
    Content-Type: the body picks the framing; evidently JSON opens like a JSON array or
    object (``[{``, ``{"``, ``[]``…) or has a first line that parses, and anything else is
    text lines: ``[Sun Dec 04 04:47:44 2005] [error] …`` labelled JSON is a log line, and a
    400 for it would block syslog-ng, which retries a 4xx forever. For the same reason a
    broken NDJSON line does not reject its batch: it is carried on as a text event, its
    position in ``malformed``.

    Events are decoded one at a time and counted: past ``max_events`` it raises
    TooManyEvents before the rest of the body is decoded, so a body of millions of tiny
    events costs no more memory than ``max_events`` of them.
    """
    declared = declared_framing(content_type)
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
    start = _SPACE.match(text).end()  # type: ignore[union-attr]  # always matches
    limit = len(text) if max_events is None else max_events  # no body holds more events
    if start == len(text):
        return EventBatch("text", [])
    if declared == "text":
        return EventBatch("text", _lines(text, start, limit))
    if declared == "ndjson":
        return _stream(text, start, limit, one_is_object=False)
    opens_json = _JSON_OPENING.match(text, start) is not None
    if text[start] == "[" and opens_json:
        return EventBatch("json_array", _array(text, start, limit))
    if text[start] == "{" and (opens_json or _first_line_parses(text, start)):
        return _stream(text, start, limit, one_is_object=True)
    return EventBatch("text", _lines(text, start, limit))


def _lines(text: str, pos: int, limit: int) -> list[dict[str, Any]]:
    """One ``{"message": <line>}`` per non-blank line, parsed as nothing else."""
    events: list[dict[str, Any]] = []
    for line in _LINE.finditer(text, pos):
        if line.group().strip():
            _check_room(events, limit)
            events.append({"message": line.group()})
    return events


def _array(text: str, pos: int, limit: int) -> list[dict[str, Any]]:
    """The events of the JSON array at ``pos``, decoded item by item (400 if broken)."""
    events: list[dict[str, Any]] = []
    end = len(text)
    pos = _skip(text, pos + 1)
    closed = pos < end and text[pos] == "]"
    while not closed:
        try:
            value, pos = _decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise MalformedBatch(f"body is not a JSON array: {_where(exc)}") from exc
        except RecursionError:
            raise MalformedBatch(f"the JSON array {NESTED_TOO_DEEPLY}") from None
        _check_room(events, limit)
        events.append(_event(value, len(events) + 1, "item"))
        pos = _skip(text, pos)
        if pos < end and text[pos] == ",":
            pos = _skip(text, pos + 1)
        elif pos < end and text[pos] == "]":
            closed = True
        else:
            _broken_array("Expecting ',' delimiter", text, pos)
    if _skip(text, pos + 1) < end:
        _broken_array("Extra data", text, _skip(text, pos + 1))
    return events


def _broken_array(msg: str, text: str, pos: int) -> None:
    exc = json.JSONDecodeError(msg, text, pos)
    raise MalformedBatch(f"body is not a JSON array: {_where(exc)}")


def _check_room(events: list[dict[str, Any]], limit: int) -> None:
    if len(events) >= limit:
        raise TooManyEvents(limit)


def _skip(text: str, pos: int) -> int:
    return _SPACE.match(text, pos).end()  # type: ignore[union-attr]  # always matches


def _stream(text: str, pos: int, limit: int, *, one_is_object: bool) -> EventBatch:
    """NDJSON, blank lines and ``{..}{..}`` streams alike; a value that is not a whole
    event (broken, too deep, a number, followed by junk) makes the rest of its line a
    malformed text event, and decoding resumes on the next line. A single event is framed
    ``object`` when ``one_is_object`` (declared NDJSON stays NDJSON)."""
    events: list[dict[str, Any]] = []
    malformed: list[int] = []
    first, end = pos, len(text)
    while pos < end:
        _check_room(events, limit)
        event, after = _next_event(text, pos)
        if event is None:
            after = _line_end(text, pos)
            malformed.append(len(events))
            event = {"message": text[pos:after].rstrip("\r")}
        events.append(event)
        pos = _SPACE.match(text, after).end()  # type: ignore[union-attr]
    if not malformed:
        if len(events) == 1 and "\n" in text[first:].rstrip():
            return EventBatch("object", events)  # pretty-printed
        one = len(events) == 1 and one_is_object
        return EventBatch("object" if one else "ndjson", events)
    if len(malformed) < len(events):
        return EventBatch("ndjson", events, malformed)
    # Not one line was an event: a text batch whose first line happened to open like JSON.
    # Flag only the lines that did.
    flagged = [i for i in malformed if _JSON_OPENING.match(events[i]["message"].lstrip())]
    return EventBatch("text", events, flagged)


def _next_event(text: str, pos: int) -> tuple[dict[str, Any] | None, int]:
    """The event at ``pos`` and where it ends; None when no whole event starts there."""
    try:
        value, after = _decoder.raw_decode(text, pos)
    except (json.JSONDecodeError, RecursionError):
        return None, pos
    if not isinstance(value, dict | str):
        return None, pos
    rest = _SPACE.match(text, after).end()  # type: ignore[union-attr]
    if rest < len(text) and text[rest] != "{" and "\n" not in text[after:rest]:
        return None, pos  # '"a": 1,' or '{..}}': junk after the value on its line
    return (value if isinstance(value, dict) else {"message": value}), after


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _first_line_parses(text: str, start: int) -> bool:
    first = text[start : _line_end(text, start)]
    try:
        json.loads(first)
    except (json.JSONDecodeError, RecursionError):
        return False
    return True


def _event(value: Any, n: int, what: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        return {"message": value}
    raise MalformedBatch(f"{what} {n} is a JSON {_kind(value)}, not an event object")


def _kind(value: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", list: "array"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _where(exc: json.JSONDecodeError) -> str:
    return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
