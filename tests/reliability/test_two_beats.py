"""Fault 4: two `celery beat` processes for 60 s (a deploy that started a second one, a failover that left
the old one running), each sending dispatch and sweep every interval to two workers, while claims keep
arriving. The dispatcher's advisory lock and its `status = 'new'` re-check let each claim be dispatched
once: staging.claims.attempts counts dispatches. (tests/test_beat.py is the short version.)"""

from __future__ import annotations

import ast
import re
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from claims_tasks.config import Settings
from db.seed import seed_claims
from tests.reliability.conftest import Report
from tests.reliability.harness import SCALE, BeatProcess, start_worker, tally, wait_until
from tests.workers import wait_for_ledger

pytestmark = pytest.mark.slow

BEATS_FOR_S = 60 if SCALE >= 1 else 20
ENV = {"CLAIMS_DISPATCH_INTERVAL": "0.5", "CLAIMS_SWEEP_INTERVAL": "1", "CLAIMS_DISPATCH_PAGE_SIZE": "700"}
_CHUNK_LOG = re.compile(rb"chunk batch=\S+ shard=\d+ (\{.*\})")


def test_two_beats_for_a_minute_dispatch_each_claim_once(
    clean: Settings, staging: psycopg.Connection, tmp_path: Path, report: Report
) -> None:
    started = time.monotonic()
    workers = [start_worker(tmp_path, f"w{i}", ENV, concurrency=1) for i in (1, 2)]
    beats = [BeatProcess(tmp_path, f"beat{i}", ENV) for i in (1, 2)]
    waves = 0
    try:
        # Claims arrive in waves the whole time both beats tick, as from an upstream feed.
        while time.monotonic() - started < BEATS_FOR_S:
            seed_claims(clean.staging_dsn, 1_000, facilities=20, invalid_share=0.05, seed=waves)
            waves += 1
            time.sleep(1.5)
        wait_until("every claim dispatched", lambda: _undispatched(staging) == 0, 60)
        for beat in beats:
            assert beat.proc.poll() is None, beat.log.read_text()[-3000:]
    finally:
        for beat in beats:
            beat.stop()
    try:
        ledger = wait_for_ledger(clean.staging_dsn, clean.production_dsn, timeout=120)
    finally:
        for w in workers:
            w.stop()

    n = waves * 1_000
    t = tally(clean.staging_dsn, clean.production_dsn)
    twice = staging.execute("SELECT count(*) FROM staging.claims WHERE attempts <> 1").fetchone()
    assert twice is not None
    # Here "duplicated" also counts claims dispatched twice, the fault's own failure mode.
    report(f"two beats for {BEATS_FOR_S} s", replace(t, duplicated=t.duplicated + twice[0]), started)
    assert twice[0] == 0, "a claim was dispatched more than once"
    assert (t.lost, t.duplicated) == (0, 0)
    assert ledger.states["done"] + ledger.states["failed"] == n, ledger.as_dict()
    # The batches account for each claim once, and the chunks the workers ran named each claim once.
    totals = staging.execute("SELECT sum(total), count(*) FROM staging.batches").fetchone()
    assert totals is not None and totals[0] == n and totals[1] >= 2
    chunks = [ast.literal_eval(m.decode()) for w in workers for m in _CHUNK_LOG.findall(w.log.read_bytes())]
    assert sum(c["loaded"] for c in chunks) == n
    assert sum(c["skipped"] + c["already"] for c in chunks) == 0
    # Both beats really were sending: each logged its own dispatch ticks.
    for beat in beats:
        assert beat.log.read_bytes().count(b"Sending due task dispatch-new-claims") >= BEATS_FOR_S


def _undispatched(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM staging.claims WHERE status = 'new'").fetchone()
    return int(row[0]) if row else -1
