"""Fault 6: a redelivery storm. The visibility timeout is shorter than a chunk's run, so Redis hands a chunk
to a second (and third...) process while the first is still writing it. Real slowness, no test hook:
chunks of 10,000 claims take seconds, the timeout is one second. Still no claim is written twice."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from pathlib import Path

import pytest

from claims_tasks.config import Settings
from db.seed import seed_claims
from tests.reliability.conftest import Report
from tests.reliability.harness import scaled, start_worker, tally
from tests.workers import wait_for_ledger

pytestmark = pytest.mark.slow

CHUNK = 10_000
STORM = {"CLAIMS_VISIBILITY_TIMEOUT": "1", "CLAIMS_CHUNK_SIZE": str(CHUNK)}
_EVENT = re.compile(rb"\[([\d-]+ [\d:,]+): INFO/\w+(?:-\d+)?\] (?:Task )?claims_tasks\.process_chunk\[([0-9a-f-]+)\]"
                    rb"(?::)? (received|succeeded)")  # fmt: skip


def test_redelivered_while_running_writes_nothing_twice(clean: Settings, tmp_path: Path, report: Report) -> None:
    from claims_tasks import dispatch as dispatcher
    from claims_tasks.tasks import chunk_sender

    n = scaled(40_000, floor=2 * CHUNK)
    seed_claims(clean.staging_dsn, n, facilities=20, invalid_share=0.05, seed=31)
    started = time.monotonic()
    workers = [start_worker(tmp_path, f"w{i}", STORM) for i in (1, 2)]
    try:
        # Dispatched from here, with the workers' chunk size (this process's settings keep the default).
        with chunk_sender() as send:
            batch = dispatcher.dispatch(clean.staging_dsn, send, shards=clean.shards, chunk_size=CHUNK,
                                        page_size=clean.dispatch_page_size)  # fmt: skip
        assert batch is not None and batch.claims == n
        ledger = wait_for_ledger(clean.staging_dsn, clean.production_dsn, batch.batch_id, timeout=240)
        time.sleep(3)  # let the last redelivered copies arrive and find nothing to do
    finally:
        for w in workers:
            w.stop()

    runs, overlapping = _deliveries([w.log.read_bytes() for w in workers])
    t = tally(clean.staging_dsn, clean.production_dsn)
    report(f"redelivery storm: visibility 1 s < chunk run ({runs} runs of {batch.chunks} chunks)", t, started)
    assert (t.lost, t.duplicated) == (0, 0)
    assert ledger.states["done"] + ledger.states["failed"] == n, ledger.as_dict()
    assert runs > batch.chunks, "Redis should have redelivered chunks"
    assert overlapping > 0, "a chunk should have been redelivered while its first run was still going"


def _deliveries(logs: list[bytes]) -> tuple[int, int]:
    """(process_chunk runs that finished, chunks delivered again before their first run had finished)."""
    from datetime import datetime

    events: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for log in logs:
        for at, task_id, what in _EVENT.findall(log):
            events[task_id.decode()].append((datetime.strptime(at.decode(), "%Y-%m-%d %H:%M:%S,%f"), what.decode()))
    runs = sum(1 for evs in events.values() for _, what in evs if what == "succeeded")
    overlapping = 0
    for evs in events.values():
        received = sorted(at for at, what in evs if what == "received")
        finished = sorted(at for at, what in evs if what == "succeeded")
        if len(received) > 1 and finished and received[1] < finished[0]:
            overlapping += 1
    return runs, overlapping
