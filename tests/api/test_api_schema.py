"""Property-based: schemathesis generates valid and malformed requests for every operation in
/openapi.json and sends them to the app in-process (real pools, real databases) with an admin key.
Whatever it sends, the answer is never a 5xx, and always matches the documented status codes, content
types and schemas; an error body is always the typed ErrorResponse."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.python import asgi

from api.main import create_app
from claims_tasks import config
from claims_tasks.tasks import run_dispatch
from db.seed import seed_claims

# The schema is read at import (schemathesis's fixture-based lazy loading does not run under pytest 9), from
# an app whose lifespan, and so its settings and pools, start only at the first request: inside the test,
# after the session's test environment is in place.
app = create_app()
schema = schemathesis.openapi.from_dict(app.openapi())
schema.app = app


@pytest.fixture(scope="module")
def some_data(test_env: dict[str, str]) -> Iterator[None]:
    """A queued batch (no worker needed), so list routes return items, not only []. Stops the app after."""
    config.get_settings.cache_clear()
    settings = config.get_settings()
    with psycopg.connect(settings.staging_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE staging.claims, staging.claim_lines, staging.claim_diagnoses, staging.batches")
    seed_claims(settings.staging_dsn, 50, facilities=3, invalid_share=0.0, seed=3)
    run_dispatch()
    yield
    asgi.shutdown_lifespans()


@schema.parametrize()
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
def test_no_input_makes_the_api_fail(case: schemathesis.Case, api_keys: dict[str, str], some_data: None) -> None:
    # Cases that deliberately drop or spoil the key must reach the app that way (and get a 401).
    negated = case.operation.schema.is_security_param_negated(case)
    case.call_and_validate(headers={} if negated else {"X-API-Key": api_keys["admin"]})
