"""Fault 7 (a slow one): memory. One worker process takes every chunk of a long run; its resident set stays
within ±10 % of where it stood after the first 10 % of the claims, and it is never replaced (a replacement
by worker_max_memory_per_child would hide growth, so the limit must sit above the steady state).

The suite runs 60,000 claims; benchmarks/bench_memory.py runs the same measurement over 1,000,000
(docs/RELIABILITY.md has its figures)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from claims_tasks.config import Settings
from db.seed import seed_claims
from tests.reliability.conftest import Report
from tests.reliability.harness import pool_pids, progress, rss_kib, scaled, start_worker, tally
from tests.workers import wait_for_ledger

pytestmark = pytest.mark.slow


def test_a_workers_memory_stays_flat(clean: Settings, tmp_path: Path, report: Report) -> None:
    import celeryconfig
    from claims_tasks.tasks import run_dispatch

    limit_kib = celeryconfig.worker_max_memory_per_child
    assert limit_kib, "worker_max_memory_per_child must be set: a leaking child is then replaced, not OOM-killed"

    n = scaled(60_000, floor=20_000)
    seed_claims(clean.staging_dsn, n, facilities=20, invalid_share=0.05, seed=41)
    started = time.monotonic()
    worker = start_worker(tmp_path, "worker", {}, concurrency=1)
    try:
        [child] = pool_pids(worker, concurrency=1)
        batch = run_dispatch()
        assert batch is not None
        samples: list[tuple[int, int]] = []  # (claims processed, RSS KiB)
        while (done := progress(clean.staging_dsn)[0]) < n:
            assert time.monotonic() - started < 240, worker.log.read_text()[-3000:]
            samples.append((done, rss_kib(child)))
            time.sleep(0.5)
        assert pool_pids(worker, concurrency=1) == [child], "the pool process was replaced during the run"
        wait_for_ledger(clean.staging_dsn, clean.production_dsn, batch.batch_id, timeout=120)
    finally:
        worker.stop()

    warm = [kib for done, kib in samples if done >= n // 10]
    assert len(warm) >= 5, f"too few samples after warm-up: {samples}"
    base = warm[0]
    t = tally(clean.staging_dsn, clean.production_dsn)
    line = report(
        f"memory: one pool process, RSS {base // 1024} MiB after 10 %, {min(warm) // 1024}..{max(warm) // 1024}"
        f" MiB after (limit {limit_kib // 1024} MiB)", t, started,
    )  # fmt: skip
    assert (t.lost, t.duplicated) == (0, 0)
    assert all(0.9 * base <= kib <= 1.1 * base for kib in warm), line
    # The limit sits well above the steady state: children are replaced for growth, not for working.
    assert max(warm) < 0.8 * limit_kib, line
