"""What a target's answer says: which statuses a retry may cure, and what a 2xx refused.

A 2xx is not always success: an OTLP ``partial_success`` or an Elasticsearch ``_bulk``
answer with ``errors: true`` says that some records were refused, some perhaps only for
now (429/5xx items). :func:`refusals` reads both; any other body means all was accepted.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

__all__ = ["TRANSIENT", "refusals"]

# statuses a retry may cure: timeouts, rate limits, a target down or overloaded
TRANSIENT = frozenset({408, 425, 429, 500, 502, 503, 504})


def refusals(response: httpx.Response) -> tuple[int, bool, str]:
    """What a 2xx answer says was refused: ``(count, whether all may pass on retry, why)``.

    Reads OTLP ``partial_success`` (protobuf or JSON) and Elasticsearch ``_bulk`` answers
    (``errors: true`` with a status per item); any other body means all was accepted.
    """
    kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind in ("application/x-protobuf", "application/protobuf"):
        try:
            partial = ExportLogsServiceResponse.FromString(response.content).partial_success
        except DecodeError:
            return 0, False, ""
        return max(partial.rejected_log_records, 0), False, partial.error_message
    if "json" not in kind:
        return 0, False, ""
    try:
        answer = response.json()
    except (ValueError, RecursionError):
        return 0, False, ""
    if not isinstance(answer, dict):
        return 0, False, ""
    partial = answer.get("partialSuccess", answer.get("partial_success"))
    if isinstance(partial, dict):
        try:
            rejected = int(
                partial.get("rejectedLogRecords", partial.get("rejected_log_records")) or 0
            )
        except (TypeError, ValueError):
            rejected = 0
        if rejected > 0:
            why = partial.get("errorMessage", partial.get("error_message", ""))
            return rejected, False, str(why)[:200]
    items = answer.get("items")
    if answer.get("errors") is True and isinstance(items, list):
        failed = [f for f in map(_bulk_failure, items) if f is not None]
        if failed:
            transient = all(status in TRANSIENT for status, _ in failed)
            return len(failed), transient, f"Elasticsearch bulk item error: {failed[0][1]}"
    return 0, False, ""


def _bulk_failure(item: Any) -> tuple[int, str] | None:
    """``(status, error)`` of a failed ``_bulk`` item (``{"index": {"status": 400, ...}}``)."""
    action = next(iter(item.values()), None) if isinstance(item, dict) else None
    status = action.get("status") if isinstance(action, dict) else None
    if not isinstance(status, int) or status < 300:
        return None
    return status, json.dumps(action.get("error"), default=str)[:200]
