"""Fixtures on the machine's real PostgreSQL and Redis: private databases per test session, a private
Redis database flushed per test, and the settings pointed at them through the environment so that worker
subprocesses see the same thing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis
from cryptography.fernet import Fernet

from claims_tasks import config
from claims_tasks.bootstrap import init_databases
from db import engines

PG = os.environ.get("CLAIMS_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("CLAIMS_TEST_REDIS", "redis://127.0.0.1:6379/13")

STAGING_TABLES = ("claims", "claim_lines", "claim_diagnoses", "seed_defects", "batches")
PRODUCTION_TABLES = ("claims", "claim_lines", "claim_diagnoses", "failed_claims")


@pytest.fixture(scope="session")
def test_env() -> Iterator[dict[str, str]]:
    tag = uuid.uuid4().hex[:8]
    env = {
        "CLAIMS_STAGING_DSN": f"{PG}/ct_{tag}_staging",
        "CLAIMS_PRODUCTION_DSN": f"{PG}/ct_{tag}_production",
        "CLAIMS_BROKER_URL": REDIS_URL,
        "CLAIMS_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CLAIMS_SHARDS": "4",
        "APP_ENV": "test",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    config.get_settings.cache_clear()
    init_databases(config.get_settings())
    try:
        yield env
    finally:
        for dsn in (env["CLAIMS_STAGING_DSN"], env["CLAIMS_PRODUCTION_DSN"]):
            engines.drop_database(dsn)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        config.get_settings.cache_clear()


@pytest.fixture
def settings(test_env: dict[str, str]) -> config.Settings:
    config.get_settings.cache_clear()
    return config.get_settings()


@pytest.fixture
def clean(settings: config.Settings) -> Iterator[config.Settings]:
    """Empty claim tables in both databases and the test Redis database, before each test."""
    with psycopg.connect(settings.staging_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(f"staging.{t}" for t in STAGING_TABLES))
    with psycopg.connect(settings.production_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(PRODUCTION_TABLES))
    redis.Redis.from_url(settings.broker_url).flushdb()
    yield settings


@pytest.fixture
def staging(settings: config.Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.staging_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def production(settings: config.Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.production_dsn, autocommit=True) as conn:
        yield conn
