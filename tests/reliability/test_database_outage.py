"""Fault 3: a database refuses connections mid-batch (ALLOW_CONNECTIONS false, and every session it had
terminated), production or staging.

For 20 s, with the shipped retry settings: chunks retry with backoff and the batch completes, nothing
dead-lettered. For longer than the retry budget: chunks go to the dead-letter queue (its rows live in
staging, so a staging outage holds them in Redis until staging answers), and beat's sweep replays them to
completion once the database is back, untouched by the test. (tests/failures/test_worker_paths.py covers
an outage from before dispatch with a sweep run by hand.)"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from claims_tasks.config import Settings
from db.seed import seed_claims
from tests.reliability.conftest import Report
from tests.reliability.harness import (
    BeatProcess,
    allow_connections,
    progress,
    scaled,
    start_worker,
    tally,
    wait_for_progress,
)
from tests.workers import wait_for_ledger

pytestmark = pytest.mark.slow

OUTAGE_S = 20


def _letters(settings: Settings) -> dict[str, int]:
    # A fresh connection: the outage terminated every session the test had open.
    with psycopg.connect(settings.staging_dsn) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM staging.dead_letters GROUP BY 1").fetchall())


def _dsn(settings: Settings, database: str) -> str:
    return settings.production_dsn if database == "production" else settings.staging_dsn


@pytest.mark.parametrize("database", ["production", "staging"])
def test_twenty_second_outage_mid_batch_is_retried_to_completion(
    clean: Settings, tmp_path: Path, report: Report, database: str
) -> None:
    from claims_tasks.tasks import run_dispatch

    n = scaled(20_000)
    seed_claims(clean.staging_dsn, n, facilities=20, invalid_share=0.05, seed=21)
    started = time.monotonic()
    worker = start_worker(tmp_path, "worker", {})  # the shipped retry budget: 5 retries, backoff from 2 s
    try:
        batch = run_dispatch()
        assert batch is not None
        wait_for_progress(clean.staging_dsn, n // 5, log=worker.log)
        allow_connections(_dsn(clean, database), False)
        try:
            time.sleep(OUTAGE_S)
        finally:
            allow_connections(_dsn(clean, database), True)
        processed, _ = progress(clean.staging_dsn)
        assert processed < n, "the batch finished during the outage: it did not overlap the batch"
        ledger = wait_for_ledger(clean.staging_dsn, clean.production_dsn, batch.batch_id, timeout=180)
        assert worker.proc.poll() is None
    finally:
        worker.stop()

    t = tally(clean.staging_dsn, clean.production_dsn)
    report(f"{database} database refuses connections {OUTAGE_S} s mid-batch", t, started)
    assert (t.lost, t.duplicated) == (0, 0)
    assert ledger.states["done"] + ledger.states["failed"] == n, ledger.as_dict()
    assert b"Retry in" in worker.log.read_bytes(), "chunks should have retried through the outage"
    assert _letters(clean) == {}, "a 20 s outage is within the retry budget: nothing dead-lettered"


# A retry budget a few seconds long: 3 attempts, each waiting at most 0.5 s for a connection.
SHORT_BUDGET = {
    "CLAIMS_TASK_MAX_RETRIES": "2",
    "CLAIMS_RETRY_BACKOFF_BASE": "0.2",
    "CLAIMS_RETRY_BACKOFF_MAX": "0.5",
    "CLAIMS_POOL_TIMEOUT": "0.5",
    "CLAIMS_DEAD_LETTER_BACKOFF": "0",
    "CLAIMS_SWEEP_INTERVAL": "2",
    "CLAIMS_DISPATCH_INTERVAL": "1",
}


@pytest.mark.parametrize("database", ["production", "staging"])
def test_outage_longer_than_the_retry_budget_dead_letters_then_replays(
    clean: Settings, tmp_path: Path, report: Report, database: str
) -> None:
    n = scaled(10_000)
    started = time.monotonic()
    worker = start_worker(tmp_path, "worker", SHORT_BUDGET)
    beat = BeatProcess(tmp_path, extra_env=SHORT_BUDGET)
    try:
        seed_claims(clean.staging_dsn, n, facilities=20, invalid_share=0.05, seed=22)
        wait_for_progress(clean.staging_dsn, n // 5, log=worker.log)
        allow_connections(_dsn(clean, database), False)
        try:
            time.sleep(15)  # several times the budget: every chunk still queued gives up
        finally:
            allow_connections(_dsn(clean, database), True)
        ledger = wait_for_ledger(clean.staging_dsn, clean.production_dsn, timeout=180)
        assert worker.proc.poll() is None
    finally:
        beat.stop()
        worker.stop()

    t = tally(clean.staging_dsn, clean.production_dsn)
    report(f"{database} database down longer than the retry budget: dead letters replayed", t, started)
    assert (t.lost, t.duplicated) == (0, 0)
    assert ledger.states["done"] + ledger.states["failed"] == n, ledger.as_dict()
    # The replayed chunk flips its claims (the ledger is whole), then marks its letter resolved in a
    # transaction of its own: the last letter may follow the ledger by a moment.
    deadline = time.monotonic() + 30
    while set(letters := _letters(clean)) != {"resolved"} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert letters.get("resolved", 0) > 0 and set(letters) == {"resolved"}, letters
