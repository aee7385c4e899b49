"""Schemathesis against the service's own OpenAPI schema: every operation, valid and invalid
inputs, no 5xx, and every response matches what the schema documents for it.

The app is the full service, sidecar routes included (``/api/v1/ingest``, ``/v1/logs``), with
the admin token sent so admin operations are fuzzed past the 401. Model tiers are offline (no
embedding model, no LLM) so examples run in milliseconds; the tiers have their own tests.
Bounded: ``MAX_EXAMPLES`` per operation, and a time box per operation.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from app.main import create_app
from tests.hardening.conftest import offline_settings

MAX_EXAMPLES = 50
ADMIN = {"Authorization": "Bearer test-admin-token"}
FREE_FORM_BODIES = {"/api/v1/classify/csv", "/classify/", "/api/v1/ingest", "/v1/logs"}


def _load_schema():
    """The schema of a fresh app, read without starting it: its lifespan starts with the
    first generated request (so collecting this file starts nothing)."""
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="logclass-fuzz-"))
    app = create_app(offline_settings(folder, max_lines=200, max_body_bytes=64 * 1024))
    loaded = schemathesis.openapi.from_dict(app.openapi())
    loaded.app, loaded.location = app, "/openapi.json"  # as from_asgi() does, minus the start
    return loaded


schema = _load_schema()


@pytest.fixture(scope="module", autouse=True)
def _stop_the_app():
    yield
    asgi.shutdown_lifespans()  # close the fuzzed app's classifier and cache


@pytest.mark.timeout(60)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples each run: a failure here is reproducible
    database=None,
)
def test_api_answers_every_generated_request_as_documented(case):
    # CSV, NDJSON and OTLP bodies are free-form to the schema (a string, a file): "the
    # schema allows it, so it must be accepted" cannot hold for them, and an empty body
    # is a valid empty batch to a shipper. Their responses are still checked.
    free_form = case.path in FREE_FORM_BODIES
    case.call_and_validate(
        headers=ADMIN,
        excluded_checks=[positive_data_acceptance, negative_data_rejection] if free_form else [],
    )


@schemathesis.serializer("application/x-protobuf", "application/x-ndjson")
def _raw_bytes(ctx, value):
    """Protobuf and NDJSON bodies are generated as bytes or text: sent as they are."""
    return value if isinstance(value, bytes) else str(value).encode()
