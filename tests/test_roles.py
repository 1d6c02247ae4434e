"""Least-privilege roles (`claims-tasks roles`, db/roles.py): a real worker connected as the worker role
dispatches and processes a batch, failures, repairs and all; the worker role cannot do what it does not
need; the reader role reads and cannot write (except its own PHI audit rows, which it cannot change)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from claims_tasks.config import Settings
from db.roles import drop_roles
from db.seed import seed_claims
from tests.reliability.harness import wait_until
from tests.workers import ROOT, WorkerProcess, wait_for_ledger

_TAG = uuid.uuid4().hex[:6]
WORKER, READER = f"ct_{_TAG}_worker", f"ct_{_TAG}_reader"


def as_role(dsn: str, role: str) -> str:
    parts = urlsplit(dsn)
    host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


@pytest.fixture(scope="module")
def roles(test_env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """The roles, made by the CLI an operator runs (roles are cluster-wide: named per test run)."""
    done = subprocess.run(
        [sys.executable, "-m", "claims_tasks.cli", "roles", "--worker", WORKER, "--reader", READER],
        capture_output=True, text=True, cwd=ROOT, env=dict(os.environ), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"roles created: {WORKER}, {READER}" in done.stdout
    again = subprocess.run(
        [sys.executable, "-m", "claims_tasks.cli", "roles", "--worker", WORKER, "--reader", READER],
        capture_output=True, text=True, cwd=ROOT, env=dict(os.environ), timeout=120,
    )  # fmt: skip
    assert again.returncode == 0 and "roles created: none" in again.stdout, again.stderr
    try:
        yield WORKER, READER
    finally:
        drop_roles(test_env["CLAIMS_STAGING_DSN"], test_env["CLAIMS_PRODUCTION_DSN"], WORKER, READER)


@pytest.mark.slow
def test_a_worker_as_the_worker_role_processes_a_batch(
    clean: Settings, roles: tuple[str, str], staging: psycopg.Connection, tmp_path: Path
) -> None:
    from claims_tasks.celery_app import app

    seed_claims(clean.staging_dsn, 3_000, facilities=10, invalid_share=0.2, seed=5)
    env = {
        "CLAIMS_STAGING_DSN": as_role(clean.staging_dsn, WORKER),
        "CLAIMS_PRODUCTION_DSN": as_role(clean.production_dsn, WORKER),
        # A review threshold that sends some claims to review, so that path runs as the role too.
        "CLAIMS_REVIEW_THRESHOLD": "0.5",
    }
    worker = WorkerProcess(tmp_path / "worker.log", extra_env=env)
    try:
        worker.wait_ready()
        # The worker dispatches (beat's task) and sweeps as well, as the worker role.
        app.send_task("claims_tasks.dispatch")
        wait_until("the batch dispatched", lambda: _count(staging, "status = 'new'") == 0, 60, worker.log)
        report = wait_for_ledger(clean.staging_dsn, clean.production_dsn, timeout=180)
        app.send_task("claims_tasks.sweep")
        wait_for_ledger(clean.staging_dsn, clean.production_dsn, timeout=60)
    finally:
        worker.stop()
    log = worker.log.read_text(errors="replace")
    assert "permission denied" not in log and "InsufficientPrivilege" not in log, log[-3000:]
    assert report.states["new"] == 0 and report.total == 3_000
    assert report.states["failed"] > 0 and report.states["done"] > 0
    assert _count(staging, "status = 'review'") > 0


def _count(conn: psycopg.Connection, where: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM staging.claims WHERE {where}").fetchone()
    return int(row[0]) if row else -1


FORBIDDEN_TO_WORKER = [
    ("staging", "DELETE FROM staging.claims"),
    ("staging", "INSERT INTO staging.claims (claim_id) VALUES ('X')"),
    ("staging", "UPDATE staging.facilities SET active = false"),
    ("staging", "TRUNCATE staging.batches"),
    ("production", "TRUNCATE claims"),
    ("production", "UPDATE facilities SET active = false"),
    ("production", "SELECT * FROM api_keys"),
    ("production", "CREATE TABLE worker_was_here (x int)"),
    ("production", "ALTER TABLE claims ADD COLUMN x int"),
    ("production", "DROP TABLE review_actions"),
]


@pytest.mark.parametrize(("database", "statement"), FORBIDDEN_TO_WORKER)
def test_the_worker_role_cannot_do_what_it_does_not_need(
    settings: Settings, roles: tuple[str, str], database: str, statement: str
) -> None:
    dsn = settings.staging_dsn if database == "staging" else settings.production_dsn
    with psycopg.connect(as_role(dsn, WORKER)) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


WRITES = [
    ("staging", "UPDATE staging.claims SET status = 'done'"),
    ("staging", "DELETE FROM staging.batches"),
    ("staging", "INSERT INTO staging.dead_letters (task_name, args, args_digest, queue, exception)"
                " VALUES ('x', '[]', 'x', 'x', 'x')"),
    ("production", "INSERT INTO claims (claim_id) VALUES ('X')"),
    ("production", "UPDATE failed_claims SET status = 'resolved'"),
    ("production", "DELETE FROM claim_lines"),
    ("production", "TRUNCATE failed_claims"),
    ("production", "UPDATE phi_reads SET disclosed = false"),
    ("production", "DELETE FROM phi_reads"),
    ("production", "INSERT INTO api_keys (name, role, key_prefix, key_hash) VALUES ('x', 'admin', 'x', 'x')"),
]  # fmt: skip


@pytest.mark.parametrize(("database", "statement"), WRITES)
def test_the_reader_role_cannot_write(
    settings: Settings, roles: tuple[str, str], database: str, statement: str
) -> None:
    dsn = settings.staging_dsn if database == "staging" else settings.production_dsn
    with psycopg.connect(as_role(dsn, READER)) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def test_the_reader_role_reads_and_leaves_an_audit_trail(settings: Settings, roles: tuple[str, str]) -> None:
    with psycopg.connect(as_role(settings.staging_dsn, READER)) as conn:
        conn.execute("SELECT count(*) FROM staging.batches").fetchone()
        conn.execute("SELECT count(*) FROM staging.claims").fetchone()
    with psycopg.connect(as_role(settings.production_dsn, READER)) as conn:
        for table in ("claims", "failed_claims", "review_actions", "api_keys", "phi_reads"):
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        # The audit row of a read is the one thing it writes (in a transaction rolled back: no key row).
        row = conn.execute(
            "SELECT has_table_privilege(current_user, 'phi_reads', 'INSERT'),"
            " has_table_privilege(current_user, 'phi_reads', 'UPDATE'),"
            " has_sequence_privilege(current_user, pg_get_serial_sequence('phi_reads', 'id'), 'USAGE')"
        ).fetchone()
        assert row == (True, False, True)
