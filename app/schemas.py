"""Request and response bodies of the JSON API (they are the OpenAPI schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LogIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    source: str = Field("", max_length=256, description="the system that wrote the line")
    log_message: str = Field(description="the raw log line")


class ClassifyRequest(BaseModel):
    logs: list[LogIn] = Field(description="lines to classify; results come back in this order")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "logs": [
                        {"source": "ModernCRM", "log_message": "User User123 logged in."},
                        {
                            "source": "BillingSystem",
                            "log_message": "GET /v2/invoices/8812 HTTP/1.1 status: 502 len: 1311",
                        },
                        {
                            "source": "LegacyCRM",
                            "log_message": "Case escalation for ticket 7324 failed",
                        },
                    ]
                }
            ]
        }
    )


class VerdictOut(BaseModel):
    label: str = Field(description="a taxonomy label, or 'Unclassified'")
    confidence: float | None = Field(description="0..1, null where the tier has none")
    tier: Literal["regex", "override", "bert", "llm", "none"] = Field(
        description="what decided: a rule, an operator's correction, a model, or none"
    )
    cached: bool
    template: str = Field(description="the line with its variable parts masked")
    reason: str | None = Field(None, description="why a line ended Unclassified or fell back")
    truncated: bool = Field(
        False, description="the line was longer than LOGCLASS_MAX_LINE_CHARS: classified by "
        "its start (also the reason, unless a tier gave one of its own)"
    )


class Summary(BaseModel):
    total: int
    by_label: dict[str, int]
    by_tier: dict[str, int]
    cached: int
    elapsed_ms: float


class ClassifyResponse(BaseModel):
    results: list[VerdictOut]
    summary: Summary


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    uptime_seconds: float
    labels: list[str] = Field(description="the taxonomy's labels (what a correction may name)")
    components: dict[str, dict[str, object]]


class ErrorResponse(BaseModel):
    detail: str | list[dict[str, object]]
    message: str | None = Field(None, description="422 only: the first problem, in one line")
