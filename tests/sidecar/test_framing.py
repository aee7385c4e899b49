"""Shipper bodies as events: the Content-Type decides whether a body may hold structured
events, the body which JSON framing it is; decoding stops at the line limit."""

import json

import pytest

from app.sidecar.framing import MalformedBatch, TooManyEvents, declared_framing, parse_events

A = '{"program":"app","message":"first"}'
B = '{"program":"db","message":"second"}'


def test_json_array_as_syslog_ng_and_vector_send_it():
    batch = parse_events(f"[{A},{B}]".encode(), "application/json")
    assert batch.framing == "json_array"
    assert [e["message"] for e in batch.events] == ["first", "second"]


@pytest.mark.parametrize(
    "body",
    [f"{A}\n{B}", f"{A}\n{B}\n", f"\n{A}\n\n\r\n{B}\n\n", f"{A}\r\n{B}\r\n", f"{A}{B}"],
    ids=["no-trailing-newline", "trailing-newline", "blank-lines", "crlf", "json-stream"],
)
@pytest.mark.parametrize("content_type", ["application/x-ndjson", "application/json", None])
def test_ndjson_in_every_shape_shippers_send(body, content_type):
    batch = parse_events(body.encode(), content_type)
    assert batch.framing == "ndjson"
    assert [e["message"] for e in batch.events] == ["first", "second"]


def test_single_object_as_logstash_json_format_sends_it():
    batch = parse_events(A.encode(), "application/json")
    assert batch.framing == "object"
    assert batch.events == [{"program": "app", "message": "first"}]


def test_one_line_of_ndjson_stays_ndjson():
    assert parse_events(A.encode(), "application/x-ndjson").framing == "ndjson"


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", None, "application/json"]
)
def test_plain_text_is_one_event_per_line_whatever_the_content_type(content_type):
    body = b"2025-06-01 ERROR failed login\n\n2025-06-01 INFO ok\n"
    batch = parse_events(body, content_type)
    assert batch.framing == "text"
    assert batch.events == [
        {"message": "2025-06-01 ERROR failed login"},
        {"message": "2025-06-01 INFO ok"},
    ]


@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
def test_lines_that_start_with_a_bracket_or_brace_are_text_even_labelled_json(content_type):
    body = b"[Sun Dec 04 04:47:44 2005] [error] mod_jk child init 1 -2\n{worker-3} task failed"
    batch = parse_events(body, content_type)
    assert batch.framing == "text"
    assert [e["message"] for e in batch.events] == [
        "[Sun Dec 04 04:47:44 2005] [error] mod_jk child init 1 -2",
        "{worker-3} task failed",
    ]


def test_a_malformed_ndjson_line_is_carried_on_as_text_between_the_good_events():
    body = f'{A}\n{B}\n{{"message": "broken\n{A}'.encode()
    batch = parse_events(body, "application/x-ndjson")
    assert batch.framing == "ndjson"
    assert batch.events == [
        json.loads(A),
        json.loads(B),
        {"message": '{"message": "broken'},
        json.loads(A),
    ]
    assert batch.malformed == [2]


@pytest.mark.parametrize(
    "line", ["{oops", "42", "[1, 2]", "null", '"a": 1,', "plain text", '{"a": 1}}', "{" * 5000]
)
@pytest.mark.parametrize("content_type", ["application/x-ndjson", "application/json", None])
def test_every_kind_of_bad_ndjson_line_is_kept_as_a_malformed_text_event(line, content_type):
    batch = parse_events(f"{A}\r\n{line}\r\n{B}\r\n".encode(), content_type)
    assert batch.framing == "ndjson"
    assert [e["message"] for e in batch.events] == ["first", line, "second"]
    assert batch.malformed == [1]


def test_objects_on_one_line_before_a_broken_one_are_kept():
    batch = parse_events(f'{A}{B}{{"message": \n{A}'.encode(), None)
    assert [e["message"] for e in batch.events] == ["first", "second", '{"message": ', "first"]
    assert batch.malformed == [2]


@pytest.mark.parametrize("content_type", ["application/json", None])
def test_text_batch_whose_first_line_opens_like_json_keeps_every_line(content_type):
    body = b'{"level": info} service started\n2025-06-01 INFO ok\n[worker] {"x"\n'
    batch = parse_events(body, content_type)
    assert batch.framing == "text"
    assert [e["message"] for e in batch.events] == [
        '{"level": info} service started',
        "2025-06-01 INFO ok",
        '[worker] {"x"',
    ]
    assert batch.malformed == [0]  # only the line that opened like JSON and was not


def test_good_batches_have_no_malformed_events():
    assert parse_events(f"{A}\n{B}".encode(), None).malformed == []
    assert parse_events(f"[{A}]".encode(), None).malformed == []
    assert parse_events(b"plain\n", None).malformed == []


@pytest.mark.parametrize("content_type", ["application/json", None])
def test_a_broken_json_array_is_still_malformed_naming_the_place(content_type):
    with pytest.raises(MalformedBatch, match="not a JSON array: .* line 1 column 32"):
        parse_events(b'[{"message": "a"}, {"message": ', content_type)


def test_array_of_strings_become_message_events_and_numbers_are_malformed():
    assert parse_events(b'["a", "b"]', "application/json").events == [
        {"message": "a"},
        {"message": "b"},
    ]
    with pytest.raises(MalformedBatch, match="item 2 is a JSON number"):
        parse_events(b'[{"message": "a"}, 7]', "application/json")


def test_a_bare_number_is_a_log_line_not_an_error():
    assert parse_events(b"42", "application/json").events == [{"message": "42"}]


def test_utf8_and_escapes_survive():
    batch = parse_events('[{"message":"quoted \\"x\\" \\\\ é✓"}]'.encode(), "application/json")
    assert batch.events[0]["message"] == 'quoted "x" \\ é✓'


def test_empty_body_is_an_empty_batch():
    assert parse_events(b"  \n", "application/json").events == []


@pytest.mark.parametrize(
    "body",
    [b"[" + b"{}," * 10 + b"{}]", b"{}\n" * 11, b"a\n" * 11, b'{"x"\n' * 11],
    ids=["json_array", "ndjson", "text", "malformed"],
)
def test_more_events_than_the_limit_stop_the_decoding(body):
    with pytest.raises(TooManyEvents, match="more than 10 sent, at most 10 .*LOGCLASS_MAX_LINES"):
        parse_events(body, None, max_events=10)
    assert len(parse_events(body, None, max_events=11).events) == 11


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'[{"message": "a"} {"message": "b"}]', "Expecting ',' delimiter: line 1 column 19"),
        (b'[{"message": "a"}] x', "Extra data: line 1 column 20"),
        (b"[{}, ]", "Expecting value: line 1 column 6"),
        (b"[{}", "Expecting ',' delimiter: line 1 column 4"),
    ],
)
def test_broken_arrays_are_named_as_json_would(body, where):
    with pytest.raises(MalformedBatch, match=f"not a JSON array: {where.replace(':', ' at')}"):
        parse_events(body, None)
    with pytest.raises(json.JSONDecodeError, match=where):
        json.loads(body)


def test_text_lines_split_only_on_line_breaks():
    batch = parse_events("one\u2028still one\x85\x1c\r\ntwo\rthree".encode(), None)
    assert [e["message"] for e in batch.events] == ["one\u2028still one\x85\x1c", "two", "three"]


# -- the Content-Type decides (issue 15, item 13) -----------------------------------------

STRUCTURED_BODIES = {
    "json_array": f"[{A},{B}]",
    "ndjson": f"{A}\n{B}\n",
    "object": A,
    "broken_array": '[{"message": "a"}, {"message": ',
}
# what a cross-origin page can post without a CORS preflight, and other non-JSON types
TEXT_TYPES = [
    "text/plain",
    "text/plain;charset=UTF-8",
    "TEXT/PLAIN ; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "text/x-log",
]


@pytest.mark.parametrize("content_type", TEXT_TYPES)
@pytest.mark.parametrize("body", STRUCTURED_BODIES.values(), ids=STRUCTURED_BODIES)
def test_a_text_body_is_text_lines_even_where_a_line_is_json(body, content_type):
    batch = parse_events(body.encode(), content_type)
    assert batch.framing == "text"
    assert batch.events == [{"message": line} for line in body.splitlines()]
    assert batch.malformed == []  # nothing was expected to be JSON, so nothing is malformed


@pytest.mark.parametrize(
    ("content_type", "declared"),
    [
        ("application/json", "json"),
        ("application/json; charset=utf-8", "json"),
        ("application/vnd.api+json", "json"),
        ("application/x-ndjson", "ndjson"),
        ("application/ndjson", "ndjson"),
        ("application/jsonl", "ndjson"),
        ("application/x-jsonlines", "ndjson"),
        ("text/plain", "text"),
        ("application/x-www-form-urlencoded", "text"),
        ("text/json", "text"),  # not a JSON media type; a browser may send text/* freely
        ("", None),
        (None, None),
    ],
)
def test_declared_framing_reads_only_the_media_type(content_type, declared):
    assert declared_framing(content_type) == declared


def test_declared_ndjson_is_one_event_per_line_never_an_array():
    batch = parse_events(f"[{A},{B}]\n{A}".encode(), "application/jsonl")
    assert batch.framing == "ndjson"
    assert [e["message"] for e in batch.events] == [f"[{A},{B}]", "first"]
    assert batch.malformed == [0]


def test_declared_ndjson_that_is_only_text_keeps_every_line():
    batch = parse_events(b"plain one\nplain two\n", "application/x-ndjson")
    assert [e["message"] for e in batch.events] == ["plain one", "plain two"]
    assert batch.malformed == []  # flagged only where a line opened like JSON


@pytest.mark.parametrize("body", STRUCTURED_BODIES.values(), ids=STRUCTURED_BODIES)
def test_a_text_body_counts_its_lines_against_the_limit(body):
    with pytest.raises(TooManyEvents):
        parse_events(((body + "\n") * 11).encode(), "text/plain", max_events=10)
