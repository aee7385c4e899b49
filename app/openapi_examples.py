"""Request and response examples for the OpenAPI docs, copied from real runs of the service.

Captured on 2026-11-27 from ``create_app()`` with the built-in taxonomy, the BERT tier
(all-MiniLM-L6-v2 and the built-in head), the template cache and no LLM server; durations
rounded to 3 decimals, long dicts trimmed to a few entries. ``tests/browser/
test_openapi_examples.py`` checks they still validate and still match what the service
answers, so they cannot drift silently. Route modules import what they need:

    from app import openapi_examples as ex
    @router.post("/classify", ..., responses=ex.CLASSIFY_RESPONSES)
    async def classify(
        body: Annotated[ClassifyRequest, Body(openapi_examples=ex.CLASSIFY_REQUEST_EXAMPLES)], ...
"""

from __future__ import annotations

from typing import Any

from app.schemas import ErrorResponse
from monitoring.prometheus import CONTENT_TYPE_LATEST

JSON = "application/json"


def example(summary: str, value: Any, description: str | None = None) -> dict[str, Any]:
    """One entry of an OpenAPI ``examples`` map."""
    entry: dict[str, Any] = {"summary": summary, "value": value}
    if description:
        entry["description"] = description
    return entry


def response(
    description: str, examples: dict[str, dict[str, Any]], media_type: str = JSON
) -> dict[str, Any]:
    """One entry of FastAPI's ``responses=``; the route's ``response_model`` keeps the schema."""
    return {"description": description, "content": {media_type: {"examples": examples}}}


def error(description: str, examples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A ``responses=`` entry for an error status: its examples and the error body schema."""
    return {**response(description, examples), "model": ErrorResponse}


# -- POST /api/v1/classify ------------------------------------------------------------------

CLASSIFY_REQUEST = {
    "logs": [
        {"source": "ModernCRM", "log_message": "User User123 logged in."},
        {"source": "BillingSystem",
         "log_message": "GET /v2/invoices/8812 HTTP/1.1 status: 502 len: 1311"},
        {"source": "ModernHR",
         "log_message": "Multiple login failures occurred on user 6454 account"},
        {"source": "BillingSystem",
         "log_message": "GET /v2/invoices/8813 HTTP/1.1 status: 200 len: 904"},
        {"source": "AnalyticsEngine",
         "log_message": "Server 17 disk usage at 93%, above the 90% limit"},
        {"source": "LegacyCRM", "log_message": "Case escalation for ticket 7324 failed because "
         "the assigned support agent is no longer active."},
    ]
}
CLASSIFY_REQUEST_EXAMPLES = {
    "mixed": example("Six lines from four systems", CLASSIFY_REQUEST,
                     "A regex rule decides the first; BERT the next four (the two GET lines "
                     "share one template); LegacyCRM is routed to the LLM."),
    "one": example("One line", {"logs": [{"source": "ModernCRM",
                                          "log_message": "Backup completed successfully."}]}),
}
# The same batch sent a second time: the model verdicts come from the cache (`cached`).
CLASSIFY_RESPONSE = {
    "results": [
        {"label": "User Action", "confidence": 1.0, "tier": "regex", "cached": False,
         "template": "User <USER> logged in.", "reason": None,
         "truncated": False},
        {"label": "HTTP Status", "confidence": 0.9996, "tier": "bert", "cached": True,
         "template": "GET <PATH> HTTP/<NUM> status: <NUM> len: <NUM>", "reason": None,
         "truncated": False},
        {"label": "Security Alert", "confidence": 0.9471, "tier": "bert", "cached": True,
         "template": "Multiple login failures occurred on user <NUM> account", "reason": None,
         "truncated": False},
        {"label": "HTTP Status", "confidence": 0.9996, "tier": "bert", "cached": True,
         "template": "GET <PATH> HTTP/<NUM> status: <NUM> len: <NUM>", "reason": None,
         "truncated": False},
        {"label": "Resource Usage", "confidence": 0.9999, "tier": "bert", "cached": True,
         "template": "Server <NUM> disk usage at <NUM>, above the <NUM> limit", "reason": None,
         "truncated": False},
        {"label": "Unclassified", "confidence": None, "tier": "none", "cached": False,
         "template": "Case escalation for ticket <NUM> failed because the assigned support "
         "agent is no longer active.", "reason": "llm_unavailable", "truncated": False},
    ],
    "summary": {
        "total": 6,
        "by_label": {"User Action": 1, "HTTP Status": 2, "Security Alert": 1,
                     "Resource Usage": 1, "Unclassified": 1},
        "by_tier": {"regex": 1, "bert": 4, "none": 1},
        "cached": 4,
        "elapsed_ms": 0.483,
    },
}
ERROR_422 = {
    "detail": [{"type": "missing", "loc": ["body", "logs", 0, "log_message"],
                "msg": "Field required", "input": {"source": "ModernCRM"}}],
    "message": "body.logs.0.log_message: Field required",
}
ERROR_413_LINES = {
    "detail": "too many lines: 10001 sent, at most 10000 per request (LOGCLASS_MAX_LINES)"
}
CLASSIFY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: response("one verdict per input line, in input order",
                  {"cached": example("The six-line batch, sent a second time",
                                     CLASSIFY_RESPONSE)}),
    413: error("body, line count or line length over a limit",
                  {"lines": example("Too many lines", ERROR_413_LINES)}),
    422: error("the body does not match the schema",
                  {"missing": example("A line without log_message", ERROR_422)}),
}

# -- POST /api/v1/classify/csv (and the reference-server path POST /classify/) ---------------

CSV_UPLOAD = (
    "source,log_message,host\n"
    "ModernCRM,User User123 logged in.,web-1\n"
    "BillingSystem,Backup completed successfully.,db-2\n"
)
CSV_RESULT = (
    "source,log_message,host,target_label,confidence,tier\n"
    "ModernCRM,User User123 logged in.,web-1,User Action,1.0000,regex\n"
    "BillingSystem,Backup completed successfully.,db-2,System Notification,1.0000,regex\n"
)
ERROR_400_CSV = {"detail": "the CSV header ['source', 'message'] has no 'log_message' column"}
CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the uploaded CSV, every column kept, with `target_label`, "
          "`confidence` and `tier` added",
          "content": {"text/csv": {"schema": {"type": "string"},
                                   "example": CSV_RESULT}}},
    400: error("malformed CSV", {"header": example("No log_message column", ERROR_400_CSV)}),
    413: error("file, line count or line length over a limit",
                  {"lines": example("Too many lines", ERROR_413_LINES)}),
    422: error("no `file` form field", {"missing": example("No file", {
        "detail": [{"type": "missing", "loc": ["body", "file"], "msg": "Field required",
                    "input": None}],
        "message": "body.file: Field required"})}),
}
CSV_DESCRIPTION_EXAMPLE = "Example upload:\n\n```csv\n" + CSV_UPLOAD + "```"

# -- GET /api/v1/health ---------------------------------------------------------------------

_HEAD = {"path": "processors/data/bert_head.npz",
         "labels": ["HTTP Status", "Critical Error", "Error", "Security Alert", "Resource Usage",
                    "System Notification", "User Action", "Workflow Error",
                    "Deprecation Warning"],
         "digest": "70ec1bf852ec6d47", "trained_at": "2026-11-27T11:36:29+00:00",
         "cv_macro_f1": None, "loso_macro_f1": 0.7499}
HEALTH_OK = {
    "status": "ok", "version": "0.1.0", "uptime_seconds": 9.146, "labels": _HEAD["labels"],
    "components": {
        "regex": {"status": "ok", "rules": 8, "combined": True},
        "bert": {"status": "ok", "loaded": True, "load_seconds": 9.04, "error": None,
                 "model": "sentence-transformers/all-MiniLM-L6-v2", "threshold": 0.712,
                 "queued": 0, "head": _HEAD},
    },
}
HEALTH_DEGRADED = {
    "status": "degraded", "version": "0.1.0", "uptime_seconds": 0.048, "labels": _HEAD["labels"],
    "components": {
        "regex": {"status": "ok", "rules": 8, "combined": True},
        "bert": {"status": "degraded", "loaded": False, "load_seconds": None,
                 "error": "cannot load the bert model or head: /srv/empty-model: not a "
                 "sentence-transformers model folder",
                 "model": "/srv/empty-model", "threshold": 0.712, "queued": 0, "head": _HEAD},
        "llm": {"status": "degraded", "configured": True,
                "base_url": "http://127.0.0.1:58681/v1", "model": "llama3.2",
                "structured_output": "json_schema", "batch_size": 20, "breaker": "open",
                "consecutive_failures": 5,
                "last_error": "ConnectError: All connection attempts failed"},
    },
}
HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: response("always 200 while the process serves; read `status`", {
        "ok": example("All components ok", HEALTH_OK),
        "degraded": example("Model folder empty, LLM server down", HEALTH_DEGRADED,
                            "Lines still get verdicts: regex rules decide what they can, "
                            "the rest end `Unclassified` with a `reason`."),
    }),
}

# -- GET /api/v1/performance/stats, POST /api/v1/performance/reset ----------------------------


def _timer(name: str, labels: dict[str, str], calls: int, errors: int,
           ms: tuple[float, float, float, float, float, float]) -> dict[str, Any]:
    avg, low, high, p50, p95, p99 = ms
    return {"name": name, "labels": labels, "calls": calls, "errors": errors,
            "error_rate": errors / calls, "avg_ms": avg, "min_ms": low, "max_ms": high,
            "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "window": calls}


STATS = {
    "uptime_seconds": 9.261, "measured_seconds": 9.261,
    "functions": {
        "bert.batch": _timer("bert.batch", {}, 1, 0, (50.763,) * 6),
        "http.request{method=POST,route=/api/v1/classify}": _timer(
            "http.request", {"method": "POST", "route": "/api/v1/classify"}, 2, 0,
            (4567.191, 1.619, 9132.763, 4567.191, 8676.206, 9041.452)),
        "pipeline.classify": _timer("pipeline.classify", {}, 2, 0,
                                    (4562.439, 0.384, 9124.493, 4562.439, 8668.288, 9033.252)),
        "tier.decide{tier=bert}": _timer("tier.decide", {"tier": "bert"}, 1, 0,
                                         (9102.585,) * 6),
    },
    "tiers": {"bert": 3, "llm": 0, "none": 2, "regex": 2},
    "lines_decided_cached": 3,
    "caches": {"l1": {"hits": 3, "misses": 5, "hit_rate": 0.375},
               "l2": {"hits": 0, "misses": 5, "hit_rate": 0.0}},
    "slow_threshold_ms": 500.0,
    "slow_functions": [
        {"function": "tier.decide{tier=bert}", "p95_ms": 9102.585, "calls": 1},
        {"function": "http.request{method=POST,route=/api/v1/classify}", "p95_ms": 8676.206,
         "calls": 2},
        {"function": "pipeline.classify", "p95_ms": 8668.288, "calls": 2},
    ],
    "counters": {"cache_hits{level=l1}": 3.0, "cache_misses{level=l1}": 5.0,
                 "lines_decided{tier=bert}": 3.0, "lines_decided{tier=regex}": 2.0,
                 "lines_decided_cached": 3.0},
    "gauges": {"cache_entries{level=l1}": 3.0, "cache_entries{level=l2}": 3.0},
}
STATS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: response("measurements since start-up or the last reset", {
        "first_batches": example("After the six-line batch, twice, on a fresh service", STATS,
                                 "The first batch paid for loading the model (bert.load, "
                                 "~9 s); the second was answered from the cache."),
    }),
}
ADMIN_401 = {"detail": "missing or wrong admin token: send 'Authorization: Bearer <token>'"}
ADMIN_403 = {"detail": "admin endpoints are disabled: set LOGCLASS_ADMIN_TOKEN to enable them"}
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: error("no or wrong bearer token",
                  {"wrong_token": example("Missing or wrong token", ADMIN_401)}),
    403: error("admin endpoints are off (no LOGCLASS_ADMIN_TOKEN)",
                  {"disabled": example("No admin token configured", ADMIN_403)}),
}
RESET_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: response("when the measurements were zeroed", {
        "reset": example("Zeroed", {"reset_at": "2026-11-27T11:40:56.887307Z"})}),
    **ADMIN_ERRORS,
}
CLEAR_CACHE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: response("entries each level held before clearing", {
        "cleared": example("Both levels emptied", {"enabled": True,
                                                    "cleared": {"l1": 3, "l2": 3}})}),
    **ADMIN_ERRORS,
}

# -- GET /metrics ---------------------------------------------------------------------------

# The start of the exposition after the batch above, sent once more to a restarted service:
# the disk level (l2) answered what memory (l1) no longer held.
METRICS_TEXT = (
    "# HELP logclass_cache_hits_total Template cache hits, by cache level\n"
    "# TYPE logclass_cache_hits_total counter\n"
    'logclass_cache_hits_total{level="l1"} 0.0\n'
    'logclass_cache_hits_total{level="l2"} 3.0\n'
    "# HELP logclass_cache_misses_total Template cache misses, by cache level\n"
    "# TYPE logclass_cache_misses_total counter\n"
    'logclass_cache_misses_total{level="l1"} 4.0\n'
    'logclass_cache_misses_total{level="l2"} 1.0\n'
)
METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Prometheus text format",
          "content": {CONTENT_TYPE_LATEST: {"example": METRICS_TEXT}}},
}
