"""Fault 2: the broker restarts mid-batch and keeps nothing (no RDB, no AOF): every queued and every
unacknowledged chunk message is gone. Workers and beat reconnect; the staging ledger, not the broker, is
the source of truth, so beat's sweep sends again the claims still `queued` after CLAIMS_REQUEUE_AFTER."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
import redis

from claims_tasks.config import Settings
from db.seed import seed_claims
from tests.reliability.conftest import Report
from tests.reliability.harness import (
    BeatProcess,
    RedisServer,
    progress,
    scaled,
    start_worker,
    tally,
    wait_for_progress,
    wait_until,
)
from tests.workers import wait_for_ledger

pytestmark = pytest.mark.slow

REQUEUE_AFTER = 12


def test_broker_restart_mid_batch_loses_nothing(
    clean: Settings, staging: psycopg.Connection, tmp_path: Path, report: Report
) -> None:
    broker = RedisServer(tmp_path / "redis")
    broker.start()
    env = {
        "CLAIMS_BROKER_URL": broker.url,
        "CLAIMS_REQUEUE_AFTER": str(REQUEUE_AFTER),
        "CLAIMS_SWEEP_INTERVAL": "2",
        "CLAIMS_DISPATCH_INTERVAL": "1",
    }
    n = scaled(30_000)
    workers = []
    beat = None
    started = time.monotonic()
    try:
        # Two workers, so that the test shows more than one consumer coming back.
        workers = [start_worker(tmp_path, f"w{i}", env, concurrency=1) for i in (1, 2)]
        beat = BeatProcess(tmp_path, extra_env=env)
        seed_claims(clean.staging_dsn, n, facilities=20, invalid_share=0.05, seed=11)
        wait_for_progress(clean.staging_dsn, n // 5, log=workers[0].log)
        wait_until("chunk messages waiting in the broker", lambda: _queued_messages(broker.url) > 0, 10)
        lost_messages = _queued_messages(broker.url)

        broker.restart(down_for=3)
        processed_at_restart, entered = progress(clean.staging_dsn)
        assert processed_at_restart < entered == n, "the batch finished before the restart"
        assert _queued_messages(broker.url) == 0, "the restarted broker should have kept nothing"

        ledger = wait_for_ledger(clean.staging_dsn, clean.production_dsn, timeout=240)
        for w in workers:
            assert w.proc.poll() is None, f"{w.log.name} died:\n{w.log.read_text()[-3000:]}"
            assert b"Connected to redis://" in w.log.read_bytes().split(b"Connection to broker lost")[-1], (
                f"{w.log.name} did not reconnect"
            )
        assert beat.proc.poll() is None, beat.log.read_text()[-3000:]
    finally:
        if beat is not None:
            beat.stop()
        for w in workers:
            w.stop()
        broker.stop()

    t = tally(clean.staging_dsn, clean.production_dsn)
    report(f"broker restart mid-batch, nothing persisted ({lost_messages} chunk messages lost)", t, started)
    assert (t.lost, t.duplicated) == (0, 0)
    assert ledger.states["done"] + ledger.states["failed"] == n, ledger.as_dict()
    # The claims whose messages vanished were sent again by the sweep, after the configured wait: each was
    # queued again (queued_at, by the database's clock) at least REQUEUE_AFTER after its batch opened.
    redispatched, waited = staging.execute(
        "SELECT count(*), min(extract(epoch FROM c.queued_at - b.created_at)) FROM staging.claims c"
        " JOIN staging.batches b USING (batch_id) WHERE c.attempts > 1"
    ).fetchone()
    assert redispatched > 0
    assert waited >= REQUEUE_AFTER, f"re-sent {waited:.1f} s after the batch opened"


def _queued_messages(url: str) -> int:
    client = redis.Redis.from_url(url)
    return sum(int(client.llen(k)) for k in client.scan_iter("claims.shard.*"))
