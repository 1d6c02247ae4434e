"""Fixtures on the machine's real PostgreSQL and Redis: private databases per test session, a private
Redis database flushed per test, and the settings pointed at them through the environment so that worker
subprocesses see the same thing."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from cryptography.fernet import Fernet

from claims_tasks import config
from claims_tasks.bootstrap import init_databases
from db import engines
from tests.tables import PRODUCTION_TABLES, STAGING_TABLES
from tests.workers import WorkerProcess, ready_worker

PG = os.environ.get("CLAIMS_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
# One Redis database per pytest-xdist worker (gw0 -> 13, gw1 -> 14, ...): test workers consume the shard
# queues, and two test processes sharing one database would take each other's chunks.
_XDIST = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_URL = os.environ.get("CLAIMS_TEST_REDIS", f"redis://127.0.0.1:6379/{13 + _XDIST}")


# The environment is set when this file is imported, before any test module: importing the Celery tasks
# can load celeryconfig (and with it the broker URL) at import time, and it is read only once.
_TAG = uuid.uuid4().hex[:8]
TEST_ENV = {
    "CLAIMS_STAGING_DSN": f"{PG}/ct_{_TAG}_staging",
    "CLAIMS_PRODUCTION_DSN": f"{PG}/ct_{_TAG}_production",
    "CLAIMS_BROKER_URL": REDIS_URL,
    "CLAIMS_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "CLAIMS_SHARDS": "4",
    "APP_ENV": "test",
    # init trains a small model here; no claim goes to review unless a test lowers the threshold.
    "CLAIMS_MODEL_PATH": os.path.join(tempfile.mkdtemp(prefix=f"ct_{_TAG}_model_"), "filter_model.joblib"),
    "CLAIMS_REVIEW_THRESHOLD": "1.0",
}
_SAVED_ENV = {k: os.environ.get(k) for k in TEST_ENV}
os.environ.update(TEST_ENV)
config.get_settings.cache_clear()


@pytest.fixture(scope="session")
def test_env() -> Iterator[dict[str, str]]:
    env = TEST_ENV
    saved = _SAVED_ENV
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
def worker(clean: config.Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    """A real `celery worker` on the emptied test databases, ready; stopped after the test."""
    with ready_worker(tmp_path / "worker.log") as proc:
        yield proc


@pytest.fixture
def staging(settings: config.Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.staging_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def production(settings: config.Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.production_dsn, autocommit=True) as conn:
        yield conn


# The fault-injection table (tests/reliability): each test attaches its line to its report, so the table is
# printed at the end of the run by the process that prints the summary, pytest-xdist's controller included.
FAULT_HEADER = "fault, claims, lost, duplicated, seconds"
_FAULT_LINES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _FAULT_LINES.extend(value for key, value in report.user_properties if key == "fault")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FAULT_LINES:
        terminalreporter.section("fault injection")
        terminalreporter.write_line(FAULT_HEADER)
        for line in _FAULT_LINES:
            terminalreporter.write_line(line)
