"""The whole pipeline with production behind ODBC: a real `celery worker` subprocess whose
CLAIMS_PRODUCTION_DSN is a psqlODBC connection string to the test session's production database. The
rows land, the ledger reconciles (the reference rules read production through the ODBC pool), and the
worker's ODBC pool is published with the other pools."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.odbc.support import odbc_dsn, require_psqlodbc

require_psqlodbc()

from claims_tasks.config import Settings  # noqa: E402
from claims_tasks.metrics import METRICS_KEY  # noqa: E402
from claims_tasks.pool_stats import POOL_STATS_KEY  # noqa: E402
from claims_tasks.tasks import run_dispatch  # noqa: E402
from db.ledger import reconcile  # noqa: E402
from db.seed import seed_claims  # noqa: E402
from tests.workers import WorkerProcess, wait_for_batch, wait_for_ledger  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def odbc_worker(clean: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    env = {"CLAIMS_PRODUCTION_DSN": odbc_dsn(clean.production_dsn), "CLAIMS_ODBC_POOL_SIZE": "3"}
    proc = WorkerProcess(tmp_path / "worker.log", concurrency=2, name="odbc", extra_env=env)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def test_batch_through_an_odbc_production(
    clean: Settings, odbc_worker: WorkerProcess, production: psycopg.Connection
) -> None:
    seed_claims(clean.staging_dsn, 3_000, facilities=12, invalid_share=0.1, seed=11)
    result = run_dispatch()
    assert result is not None and result.claims == 3_000

    total, done, failed, review = wait_for_batch(clean.staging_dsn, result.batch_id, timeout=120)
    assert (total, done + failed + review) == (3_000, 3_000)
    # Reconciled through PostgreSQL's own driver: what ODBC wrote is what the ledger says, nothing twice.
    ledger = wait_for_ledger(clean.staging_dsn, clean.production_dsn, result.batch_id, timeout=60)
    assert ledger.ok and ledger.duplicates == 0 and ledger.missing == 0 and ledger.line_mismatches == 0
    assert (ledger.states["done"], ledger.states["failed"]) == (done, failed)
    # And through the ODBC DSN itself, as an operator with a SQL Server production runs it: the same report.
    assert reconcile(clean.staging_dsn, odbc_dsn(clean.production_dsn), result.batch_id) == ledger
    assert reconcile(clean.staging_dsn, odbc_dsn(clean.production_dsn)).ok
    counts = production.execute(
        "SELECT (SELECT count(*) FROM claims), (SELECT count(*) FROM failed_claims),"
        " (SELECT count(*) FROM failed_claims WHERE status = 'retrying')"
    ).fetchone()
    assert counts == (done, failed, 0)  # over ODBC, failures go to review, not automated repair
    assert failed == 300

    # Each pool process published its pools; production is the ODBC pool, pre-warmed to its size.
    docs = [json.loads(v) for v in redis.Redis.from_url(clean.broker_url).hgetall(POOL_STATS_KEY).values()]
    pools = [d["pools"]["production"] for d in docs]
    assert pools and all(p["pool_size"] == 3 and p["pool_max"] == 3 for p in pools)
    assert sum(p["requests_num"] for p in pools) >= result.chunks
    # The reference rules read production through the ODBC pool's read-through cache: misses per table
    # (each process asks once per id), hits for the rest, flushed with the chunks' metrics.
    lookups = {
        tuple(json.loads(k.decode().split("|")[1]).values()): float(v)
        for k, v in redis.Redis.from_url(clean.broker_url).hgetall(METRICS_KEY).items()
        if k.startswith(b"reference_cache_lookups|")
    }
    assert {t for t, r in lookups if r == "miss"} == {"facilities", "payers", "financial_classes"}
    assert lookups[("payers", "hit")] > 0
    assert "Traceback" not in odbc_worker.log.read_text()
