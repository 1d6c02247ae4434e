"""Failure paths through real `celery worker` processes, real Redis and PostgreSQL: the retry queue's
priorities, a production outage that dead-letters chunks and their replay once it is back, high-value
dispatch priority, and recovery of claims whose messages the broker lost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import redis

from claims_tasks import dispatch as dispatcher
from claims_tasks.broker import queue_depths
from claims_tasks.config import Settings
from claims_tasks.dead_letters import redrive
from claims_tasks.resources import WorkerResources, build_resources
from claims_tasks.sharding import RETRY_QUEUE, shard_queue
from claims_tasks.tasks import publish_letter, repair_claims, run_dispatch, sweep
from tests.factories import insert_claims, make_valid_claims
from tests.failures.helpers import process_all, retry_ids
from tests.reliability.harness import allow_connections
from tests.workers import WorkerProcess, wait_for_ledger

pytestmark = pytest.mark.slow


@pytest.fixture
def res(clean: Settings) -> Iterator[WorkerResources]:
    resources = build_resources(clean)
    yield resources
    resources.close()


def test_high_value_repairs_overtake_low_on_the_retry_queue(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection,
    tmp_path: Path,
) -> None:  # fmt: skip
    claims = make_valid_claims(staging, 40, facilities=1)
    # All repairable (total != sum of lines); the last 10 are worth far more.
    broken = [
        replace(c, total_charge=Decimal("1.00"))
        if i < 30
        else replace(c, total_charge=Decimal("1.00"), lines=tuple(replace(ln, line_charge=Decimal("9000.00"))
                                                                   for ln in c.lines))
        for i, c in enumerate(claims)
    ]  # fmt: skip
    insert_claims(staging, broken)
    _batch, counts = process_all(clean, res)
    by_priority = retry_ids(counts)
    assert sorted(by_priority) == [0, 8]
    # Low-value repairs are queued first, one message each, then the high-value ones.
    for priority in (8, 0):
        for claim_id in by_priority[priority]:
            repair_claims.apply_async(args=([claim_id],), queue=RETRY_QUEUE, priority=priority)

    worker = WorkerProcess(tmp_path / "worker.log", concurrency=1, queues=[RETRY_QUEUE])
    try:
        worker.wait_ready()
        wait_for_ledger(clean.staging_dsn, clean.production_dsn)
    finally:
        worker.stop()

    order = [cid for (cid,) in production.execute("SELECT claim_id FROM review_actions ORDER BY id")]
    assert len(order) == 40
    high = set(by_priority[0])
    # With one process and prefetch 1, at most one low-value message was already in hand.
    assert set(order[:11]) >= high, f"high-value repairs came at positions {[order.index(h) for h in high]}"
    assert production.execute("SELECT count(*) FROM failed_claims WHERE status = 'repaired'").fetchone() == (40,)


def _block_production(settings: Settings, allow: bool) -> None:
    # The same fault as tests/reliability/test_database_outage.py, which runs it mid-batch for longer.
    allow_connections(settings.production_dsn, allow)


def test_production_outage_dead_letters_then_replays_to_completion(
    clean: Settings, staging: psycopg.Connection, tmp_path: Path
) -> None:
    insert_claims(staging, make_valid_claims(staging, 1_500, facilities=6))
    fast_failure = {
        "CLAIMS_TASK_MAX_RETRIES": "2",
        "CLAIMS_RETRY_BACKOFF_BASE": "0.2",
        "CLAIMS_RETRY_BACKOFF_MAX": "1",
        "CLAIMS_POOL_TIMEOUT": "2",
        "CLAIMS_DEAD_LETTER_BACKOFF": "0",
    }
    worker = WorkerProcess(tmp_path / "worker.log", extra_env=fast_failure)
    try:
        worker.wait_ready()
        _block_production(clean, allow=False)
        try:
            result = run_dispatch()
            assert result is not None
            deadline = time.monotonic() + 120
            while True:
                dead = staging.execute(
                    "SELECT count(*), min(attempts) FROM staging.dead_letters WHERE status = 'dead'"
                ).fetchone()
                if dead is not None and dead[0] == result.chunks:
                    break
                assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-4000:]
                time.sleep(0.5)
            assert dead[1] == 3, "each chunk: one attempt and two retries before the dead-letter queue"
            # Nothing is lost meanwhile: the claims wait, queued, in the ledger.
            queued = staging.execute("SELECT count(*) FROM staging.claims WHERE status = 'queued'").fetchone()
            assert queued == (1_500,)
            # The redriver does not replay into an outage.
            assert redrive(clean.staging_dsn, clean.production_dsn, publish_letter, max_replays=5, backoff_s=0) == []
        finally:
            _block_production(clean, allow=True)

        # What beat does every CLAIMS_SWEEP_INTERVAL seconds: a replay that meets a connection the outage
        # broke dead-letters again, and the next sweep replays it.
        deadline = time.monotonic() + 120
        while True:
            sweep.apply_async()
            try:
                report = wait_for_ledger(clean.staging_dsn, clean.production_dsn, timeout=10)
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise
    finally:
        worker.stop()

    assert report.states["done"] == 1_500
    letters = staging.execute("SELECT status, count(*) FROM staging.dead_letters GROUP BY 1").fetchall()
    assert letters == [("resolved", result.chunks)]


def test_high_value_chunks_go_first_on_their_shard(clean: Settings, staging: psycopg.Connection) -> None:
    claims = make_valid_claims(staging, 50, facilities=1)
    rich = [replace(c, claim_id=f"R{i:04d}", patient_account_number=f"RA{i}", subscriber_id=f"RS{i}",
                    total_charge=Decimal("30000.00"),
                    lines=tuple(replace(ln, line_charge=Decimal("15000.00")) for ln in c.lines))
            for i, c in enumerate(claims[:5])]  # fmt: skip
    insert_claims(staging, claims[5:] + rich)
    result = run_dispatch()
    assert result is not None
    client = redis.Redis.from_url(clean.broker_url)
    shard = next(iter(result.per_shard))
    queue = shard_queue(shard)
    assert client.llen(queue) == 1, "the high-value chunk sits in the top-priority list"
    assert client.llen(f"{queue}:6") == 1
    assert queue_depths(clean.broker_url, [queue]) == {queue: 2}


def test_claims_whose_messages_were_lost_are_dispatched_again(
    clean: Settings, staging: psycopg.Connection, tmp_path: Path
) -> None:
    insert_claims(staging, make_valid_claims(staging, 2_000, facilities=8))
    result = run_dispatch()
    assert result is not None
    redis.Redis.from_url(clean.broker_url).flushdb()  # the broker restarted and kept nothing

    from claims_tasks.tasks import chunk_sender

    with chunk_sender() as send:
        requeued = dispatcher.requeue_stale(clean.staging_dsn, send, older_than_s=0, shards=clean.shards,
                                            chunk_size=clean.chunk_size)  # fmt: skip
    assert requeued == 2_000
    worker = WorkerProcess(tmp_path / "worker.log")
    try:
        worker.wait_ready()
        report = wait_for_ledger(clean.staging_dsn, clean.production_dsn, result.batch_id)
    finally:
        worker.stop()
    assert report.states["done"] == 2_000
    attempts = staging.execute("SELECT min(attempts), max(attempts) FROM staging.claims").fetchone()
    assert attempts == (2, 2)


def test_repairs_whose_messages_were_lost_are_sent_again_by_the_sweep(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection,
    tmp_path: Path,
) -> None:  # fmt: skip
    # A worker killed between a chunk's commit and its sending the repairs leaves its failed claims
    # `retrying` with no message; one killed inside a repair, after the production write and before the
    # staging flip, leaves a repaired claim `failed` in the ledger. The sweep finds both.
    claims = make_valid_claims(staging, 30, facilities=2)
    insert_claims(staging, [replace(c, total_charge=Decimal("1.00")) for c in claims])  # repairable
    _batch, counts = process_all(clean, res)  # in-process: no repair message is sent
    lost = [cid for ids in retry_ids(counts).values() for cid in ids]
    assert len(lost) == 30
    half_healed = lost[0]
    from claims_tasks import failures

    failures.repair_claims(res, [half_healed])
    staging.execute("UPDATE staging.claims SET status = 'failed' WHERE claim_id = %s", (half_healed,))
    production.execute("UPDATE failed_claims SET updated_at = updated_at - interval '5 seconds'")
    assert staging.execute("SELECT count(*) FROM staging.claims WHERE status = 'failed'").fetchone() == (30,)

    # The sweep runs in the worker, on the worker's settings: there "lost" means older than 2 s.
    worker = WorkerProcess(tmp_path / "worker.log", extra_env={"CLAIMS_REQUEUE_AFTER": "2"})
    try:
        worker.wait_ready()
        sweep.apply_async()
        report = wait_for_ledger(clean.staging_dsn, clean.production_dsn, timeout=60)
    finally:
        worker.stop()
    assert report.states["done"] == 30
    assert production.execute("SELECT count(*) FROM failed_claims WHERE status = 'repaired'").fetchone() == (30,)
    assert production.execute("SELECT count(*) FROM claims").fetchone() == (30,)


def test_a_chunk_that_fails_for_good_is_dead_lettered_at_once(clean: Settings, staging: psycopg.Connection,
                                                               tmp_path: Path) -> None:  # fmt: skip
    from claims_tasks.celery_app import app

    # Claim ids of the wrong type: a bug upstream, not an outage. Retrying cannot help.
    app.send_task("claims_tasks.process_chunk", args=["b-bad", 0, [1, 2]], queue=shard_queue(0))
    worker = WorkerProcess(tmp_path / "worker.log")
    try:
        worker.wait_ready()
        deadline = time.monotonic() + 60
        while (row := staging.execute("SELECT task_name, args, attempts, exception FROM staging.dead_letters")
               .fetchone()) is None:  # fmt: skip
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.3)
    finally:
        worker.stop()
    task_name, args, attempts, exception = row
    assert (task_name, args, attempts) == ("claims_tasks.process_chunk", ["b-bad", 0, [1, 2]], 1)
    assert "UndefinedFunction" in exception or "operator does not exist" in exception
