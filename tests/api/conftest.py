"""API fixtures: keys for each role, the app in-process (FastAPI's TestClient runs its lifespan: real
pools on the test databases), and the PHI audit table emptied per test."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from claims_tasks import config
from db import apikeys


@pytest.fixture(scope="session")
def api_keys(test_env: dict[str, str]) -> dict[str, str]:
    """role -> a fresh active key. api_keys is not among the tables the `clean` fixture empties."""
    with psycopg.connect(test_env["CLAIMS_PRODUCTION_DSN"]) as conn:
        return {role: apikeys.create_key(conn, role=role, name=f"test-{role}")[1] for role in apikeys.ROLES}


@pytest.fixture(scope="module")
def client(test_env: dict[str, str]) -> Iterator[TestClient]:
    config.get_settings.cache_clear()
    with TestClient(create_app(config.get_settings()), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def phi_reads_empty(settings: config.Settings) -> None:
    with psycopg.connect(settings.production_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE phi_reads")


def key(api_keys: dict[str, str], role: str) -> dict[str, str]:
    return {"X-API-Key": api_keys[role]}
