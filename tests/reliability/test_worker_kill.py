"""Fault 1: a worker dies mid-batch. SIGKILL (the machine or container is gone: nothing finishes, nothing
is given back) and SIGTERM (a deploy: warm shutdown). Either way every claim ends done or failed, once."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import redis

from claims_tasks.config import Settings
from db.seed import seed_claims
from tests.reliability.conftest import Report
from tests.reliability.harness import BeatProcess, kill_tree, progress, scaled, start_worker, tally, wait_for_progress
from tests.workers import wait_for_ledger

pytestmark = pytest.mark.slow

# Short enough that the killed worker's chunks come back quickly, long enough that no live chunk of 1,000
# claims (well under a second) is redelivered while it runs.
VISIBILITY = "6"


def _unacked(settings: Settings) -> int:
    # kombu's Redis transport keeps each delivered, unacknowledged message in this hash until its ack.
    return int(redis.Redis.from_url(settings.broker_url).hlen("unacked"))


def test_sigkill_mid_batch_then_a_new_worker(clean: Settings, tmp_path: Path, report: Report) -> None:
    from claims_tasks.tasks import run_dispatch

    n = scaled(50_000)
    seed_claims(clean.staging_dsn, n, facilities=20, invalid_share=0.05, seed=7)
    env = {"CLAIMS_VISIBILITY_TIMEOUT": VISIBILITY}
    started = time.monotonic()
    first = start_worker(tmp_path, "first", env)
    try:
        batch = run_dispatch()
        assert batch is not None and batch.claims == n
        wait_for_progress(clean.staging_dsn, n // 5, log=first.log)
        deadline = time.monotonic() + 10
        while (held := _unacked(clean)) == 0:  # between two chunks: wait for the next delivery
            assert time.monotonic() < deadline, "the worker never held an unacknowledged chunk"
            time.sleep(0.01)
        kill_tree(first.proc)
    finally:
        first.stop()
    done_at_kill, _ = progress(clean.staging_dsn)
    assert done_at_kill < n, "the batch finished before the kill"
    assert _unacked(clean) >= 1, "the killed worker's chunks should still be unacknowledged in Redis"

    # A kill between a chunk's commit and its sending the failed claims to repair leaves them `retrying`
    # with no message: beat's sweep sends them again (as in production, where beat always runs). The sweep
    # runs in the worker, so the worker is the one that must know how old "lost" is.
    swept = {**env, "CLAIMS_REQUEUE_AFTER": "20", "CLAIMS_SWEEP_INTERVAL": "2"}
    second = start_worker(tmp_path, "second", swept)
    beat = BeatProcess(tmp_path, extra_env=swept)
    try:
        ledger = wait_for_ledger(clean.staging_dsn, clean.production_dsn, batch.batch_id, timeout=240)
    finally:
        beat.stop()
        second.stop()
    t = tally(clean.staging_dsn, clean.production_dsn)
    report(f"worker SIGKILL mid-batch ({held} chunks unacked)", t, started)
    assert (t.lost, t.duplicated) == (0, 0)
    assert ledger.states["done"] + ledger.states["failed"] == n, ledger.as_dict()
    assert _unacked(clean) == 0


def test_sigterm_warm_shutdown_mid_batch(clean: Settings, tmp_path: Path, report: Report) -> None:
    from claims_tasks.tasks import run_dispatch

    n = scaled(20_000)
    seed_claims(clean.staging_dsn, n, facilities=20, invalid_share=0.05, seed=8)
    # The default visibility timeout (30 minutes): finishing promptly proves the warm shutdown finished its
    # chunks and gave back the ones it had prefetched, rather than Redis redelivering them.
    started = time.monotonic()
    first = start_worker(tmp_path, "first", {})
    try:
        batch = run_dispatch()
        assert batch is not None
        wait_for_progress(clean.staging_dsn, n // 5, log=first.log)
        first.proc.send_signal(signal.SIGTERM)
        assert first.proc.wait(timeout=60) == 0, first.log.read_text()[-3000:]
    finally:
        first.stop()
    done_at_stop, _ = progress(clean.staging_dsn)
    assert done_at_stop < n, "the batch finished before the shutdown"
    assert _unacked(clean) == 0, "a warm shutdown leaves nothing unacknowledged"

    second = start_worker(tmp_path, "second", {})
    try:
        ledger = wait_for_ledger(clean.staging_dsn, clean.production_dsn, batch.batch_id, timeout=180)
    finally:
        second.stop()
    t = tally(clean.staging_dsn, clean.production_dsn)
    report("worker SIGTERM (warm shutdown) mid-batch", t, started)
    assert (t.lost, t.duplicated) == (0, 0)
    assert ledger.states["done"] + ledger.states["failed"] == n, ledger.as_dict()
