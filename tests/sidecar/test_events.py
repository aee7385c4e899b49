"""Reading an event's message and source by key, and the records to classify."""

from app.sidecar.events import EventFields, lookup, records_of
from processors.records import LogRecord


def test_message_falls_back_through_the_keys_in_order():
    fields = EventFields()
    assert fields.message_of({"log": "fluent-bit tail", "msg": "no"}) == "fluent-bit tail"
    assert fields.message_of({"MESSAGE": "journald"}) == "journald"
    assert fields.message_of({"message": "", "msg": "empty message skipped"}) == (
        "empty message skipped"
    )
    assert fields.message_of({"message": {"nested": "object"}}) is None


def test_nested_and_literal_dotted_keys():
    event = {"kubernetes": {"container_name": "api"}, "log.file.name": "app.log"}
    assert lookup(event, "kubernetes.container_name") == "api"
    assert lookup(event, "log.file.name") == "app.log"
    assert lookup(event, "kubernetes.pod_name") is None
    assert EventFields().source_of(event) == "api"


def test_configured_keys_and_default_source():
    class S:
        ingest_message_keys = "event.original, message"
        ingest_source_keys = "host.name"
        ingest_default_source = "unknown"
        ingest_enrich_key = "classification"

    fields = EventFields.from_settings(S())
    assert fields.message_keys == ("event.original", "message")
    assert fields.message_of({"event": {"original": "raw"}, "message": "parsed"}) == "raw"
    assert fields.source_of({"message": "x"}) == "unknown"


def test_records_skip_events_without_a_message_and_keep_positions():
    events = [{"message": "a", "program": "p"}, {"other": 1}, {"log": "c"}]
    positions, records = records_of(events, EventFields())
    assert positions == [0, 2]
    assert records == [LogRecord("p", "a"), LogRecord("default", "c")]
