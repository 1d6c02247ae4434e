"""Keys and roles: 401 without or with a wrong or revoked key, 403 for a role that may not, the role taken
from the database only; errors are JSON with a category and a correlation id, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from claims_tasks.config import Settings
from tests.api.conftest import key

AUTHENTICATED_GETS = [
    "/batches",
    "/batch_status/b1",
    "/status",
    "/failed_claims",
    "/failed_claims/1",
    "/metrics",
    "/whoami",
    "/api_keys",
]


@pytest.mark.parametrize("path", AUTHENTICATED_GETS)
def test_every_route_but_health_needs_a_valid_key(client: TestClient, path: str) -> None:
    missing = client.get(path)
    wrong = client.get(path, headers={"X-API-Key": "ctk_not-a-key"})
    for response, message in ((missing, "missing X-API-Key header"), (wrong, "not a valid, active key")):
        assert response.status_code == 401, response.text
        body = response.json()
        assert body["category"] == "authentication"
        assert message in body["message"]
        assert body["correlation_id"] == response.headers["X-Correlation-ID"]
        assert response.headers["WWW-Authenticate"].startswith("ApiKey")


@pytest.mark.parametrize(
    "path",
    ["/failed_claims/1/assign", "/failed_claims/1/resolve", "/failed_claims/1/resubmit", "/claims/C1/amend"],
)
def test_review_actions_need_a_valid_key_before_anything_else(client: TestClient, path: str) -> None:
    for headers in ({}, {"X-API-Key": "ctk_not-a-key"}):
        response = client.post(path, json={"not": "checked yet"}, headers=headers)
        assert response.status_code == 401 and response.json()["category"] == "authentication"


def test_health_needs_no_key(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["checks"]["staging"] == "ok"
    assert response.json()["checks"]["production"] == "ok"
    assert response.json()["checks"]["broker"] == "ok"


def test_role_comes_from_the_key_not_the_request(client: TestClient, api_keys: dict[str, str]) -> None:
    for role in ("auditor", "user", "admin"):
        me = client.get("/whoami", headers={**key(api_keys, role), "X-Role": "admin", "Role": "admin"})
        assert me.status_code == 200 and me.json()["role"] == role

    # Only admins list keys; a header claiming otherwise changes nothing.
    for role in ("auditor", "user"):
        refused = client.get("/api_keys", headers={**key(api_keys, role), "X-Role": "admin"})
        assert refused.status_code == 403
        assert refused.json()["category"] == "authorization"
        assert "needs one of: admin" in refused.json()["message"]
    listed = client.get("/api_keys", headers=key(api_keys, "admin"))
    assert listed.status_code == 200
    assert {k["role"] for k in listed.json()} >= {"auditor", "user", "admin"}
    assert all("hash" not in k and not k["key_prefix"].endswith(api_keys["admin"][12:]) for k in listed.json())


def test_cli_creates_lists_and_revokes_keys(client: TestClient, settings: Settings) -> None:
    cli = [sys.executable, "-m", "claims_tasks.cli", "apikey"]
    created = subprocess.run(
        [*cli, "create", "--role", "user", "--name", "ops-bot"], capture_output=True, text=True, check=True
    )
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("ctk_") and " " not in secret
    me = client.get("/whoami", headers={"X-API-Key": secret}).json()
    assert (me["name"], me["role"]) == ("ops-bot", "user")

    listing = subprocess.run([*cli, "list"], capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in listing.splitlines() if ln.endswith(" ops-bot"))
    assert " user " in line and " active " in line and secret not in listing

    revoked = subprocess.run([*cli, "revoke", str(me["id"])], capture_output=True, text=True, check=True)
    assert f"revoked key {me['id']}" in revoked.stdout
    after = client.get("/whoami", headers={"X-API-Key": secret})
    assert after.status_code == 401

    unknown = subprocess.run([*cli, "revoke", "999999"], capture_output=True, text=True)
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "claims-tasks: no API key with id 999999 (see: claims-tasks apikey list)"
    bad_role = subprocess.run([*cli, "create", "--role", "root"], capture_output=True, text=True)
    assert bad_role.returncode == 2 and "Traceback" not in bad_role.stderr


def test_errors_carry_category_and_correlation_id(client: TestClient, api_keys: dict[str, str]) -> None:
    sent = client.get(
        "/batch_status/no-such-batch", headers={**key(api_keys, "auditor"), "X-Correlation-ID": "req-12345678"}
    )
    assert sent.status_code == 404
    assert sent.json() == {
        "category": "not_found",
        "message": "no batch 'no-such-batch'",
        "correlation_id": "req-12345678",
    }
    assert sent.headers["X-Correlation-ID"] == "req-12345678"

    # A malformed correlation id is replaced, never echoed.
    odd = client.get("/whoami", headers={**key(api_keys, "auditor"), "X-Correlation-ID": "<script>"})
    assert odd.headers["X-Correlation-ID"] != "<script>" and len(odd.headers["X-Correlation-ID"]) == 32

    no_route = client.get("/nope", headers=key(api_keys, "auditor"))
    assert no_route.status_code == 404 and no_route.json()["category"] == "not_found"
    wrong_method = client.delete("/batches", headers=key(api_keys, "auditor"))
    assert wrong_method.status_code == 405 and wrong_method.json()["category"] == "method_not_allowed"
    assert wrong_method.headers["Allow"] == "GET"

    bad = client.get("/failed_claims?page=0&page_size=9999&since=2024-02-30", headers=key(api_keys, "auditor"))
    assert bad.status_code == 422
    body = bad.json()
    assert body["category"] == "validation"
    assert {d["location"] for d in body["details"]} == {"query.page", "query.page_size", "query.since"}


def test_unexpected_errors_leak_nothing(settings: Settings, api_keys: dict[str, str]) -> None:
    app: FastAPI = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail: patient Jane Roe, /srv/app/api/routes.py line 12")

    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["category"] == "internal"
    assert body["correlation_id"] == response.headers["X-Correlation-ID"]
    assert body["correlation_id"] in body["message"]
    assert "secret" not in response.text and "Traceback" not in response.text and ".py" not in response.text


def test_a_database_that_is_down_is_a_503_naming_it(settings: Settings, api_keys: dict[str, str]) -> None:
    down = settings.model_copy(update={"production_dsn": "postgresql://postgres@127.0.0.1:1/nowhere"})
    with TestClient(create_app(down), raise_server_exceptions=False) as c:
        health = c.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "down"
        assert "production database at 127.0.0.1:1/nowhere is unreachable" in health.json()["checks"]["production"]
