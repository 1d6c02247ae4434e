"""`celery beat` as producer: two beats at once, a real worker drains, each claim dispatched once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from claims_tasks.config import Settings
from db.ledger import reconcile
from db.seed import seed_claims
from tests.workers import ROOT, WorkerProcess

pytestmark = pytest.mark.slow


def _beat(tmp_path: Path, n: int) -> subprocess.Popen[bytes]:
    log = (tmp_path / f"beat{n}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "claims_tasks", "beat", "--loglevel", "INFO",
         "--schedule", str(tmp_path / f"beat{n}-schedule")],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "CLAIMS_DISPATCH_INTERVAL": "0.5", "CLAIMS_DISPATCH_PAGE_SIZE": "500"},
    )  # fmt: skip


def test_two_beats_dispatch_every_claim_exactly_once(
    clean: Settings, staging: psycopg.Connection, tmp_path: Path
) -> None:
    worker = WorkerProcess(tmp_path / "worker.log", extra_env={"CLAIMS_DISPATCH_PAGE_SIZE": "500"})
    beats = [_beat(tmp_path, 1), _beat(tmp_path, 2)]
    try:
        worker.wait_ready()
        # Claims arrive in three waves while both beats tick, as they would from an upstream feed.
        for wave in range(3):
            seed_claims(clean.staging_dsn, 2_000, facilities=10, invalid_share=0.05, seed=wave)
            time.sleep(1.5)
        deadline = time.monotonic() + 120
        while staging.execute("SELECT count(*) FROM staging.claims WHERE status IN ('new', 'queued')").fetchone() != (
            0,
        ):
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.5)
    finally:
        for beat in beats:
            beat.send_signal(signal.SIGTERM)
        for beat in beats:
            beat.wait(timeout=30)
        worker.stop()

    attempts = dict(staging.execute("SELECT attempts, count(*) FROM staging.claims GROUP BY 1").fetchall())
    assert attempts == {1: 6_000}, "a claim was dispatched more than once"
    batches = staging.execute("SELECT count(DISTINCT batch_id) FROM staging.claims").fetchone()
    assert batches is not None and batches[0] >= 2, "beat should have dispatched each wave as it came"
    report = reconcile(clean.staging_dsn, clean.production_dsn)
    assert report.ok, report.as_dict()
    assert report.states["done"] + report.states["failed"] == 6_000
