"""Change data capture (`claims-tasks cdc`): every production change as a JSON line, in an order a consumer can
resume from without skipping a change committed late or repeating one it saved.

The stream emits a change once every older transaction in the PostgreSQL cluster has ended (db/cdc.py). On
a server shared with other work, a long transaction elsewhere holds it back for a while, so these tests
read until what they wait for has come out (bounded), rather than once.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from claims_tasks.cdc import stream
from claims_tasks.config import Settings
from db.cdc import Position
from tests.lifecycle.conftest import Processed

INSERT = (
    "INSERT INTO claims (claim_id, facility_id, patient_first_name, patient_last_name, date_of_birth, sex,"
    " subscriber_id, payer_id, billing_npi, claim_frequency, service_from, service_to, total_charge, batch_id)"
    " VALUES (%s, 'F0001', 'Ann', 'Smith', '1980-01-01', 'F', 'S', 'P', '1234567893', '1', '2025-03-01',"
    " '2025-03-01', 10, 'B-cdc')"
)
WAIT = 120.0

Events = list[dict]


def _read(dsn: str, start: Position, **kwargs: object) -> Events:
    out = io.StringIO()
    stream(dsn, start, out, **kwargs)  # type: ignore[arg-type]
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _read_until(dsn: str, start: Position, done: Callable[[Events], bool]) -> Events:
    deadline = time.monotonic() + WAIT
    while True:
        events = _read(dsn, start)
        if done(events):
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"the stream did not get there in {WAIT}s: {events[-5:]}")
        time.sleep(0.3)


def _caught_up(dsn: str) -> Position:
    """A position after every change so far: a marker is written and read back; once it is out, every
    change before it is final and out too."""
    marker = f"CDC-M-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(INSERT, (marker,))
    events = _read_until(dsn, Position.START, lambda evs: any(e["claim_id"] == marker for e in evs))
    return Position.parse(events[-1]["position"])


def test_a_processed_batch_streams_every_row_once_without_patient_identifiers(
    clean: Settings, production: psycopg.Connection, processed: Processed
) -> None:
    expected = {r[0] for r in production.execute("SELECT claim_id FROM claims")}
    failed_ids = {r[0] for r in production.execute("SELECT id FROM failed_claims")}

    def ours(evs: Events) -> Events:
        # Earlier tests' rows are gone (truncated): their events read as row null.
        return [e for e in evs if e["op"] == "insert" and e["row"] and e["row"]["batch_id"] == processed.batch_id]

    def all_out(evs: Events) -> bool:
        return {e["claim_id"] for e in ours(evs) if e["table"] == "claims"} == expected

    events = _read_until(clean.production_dsn, Position.START, all_out)
    inserts = ours(events)
    claims = [e["claim_id"] for e in inserts if e["table"] == "claims"]
    failed = {e["row"]["id"] for e in inserts if e["table"] == "failed_claims"}

    assert len(claims) == len(set(claims)) == processed.done
    assert failed == failed_ids and len(failed) >= processed.failed > 0
    claim_row = next(e["row"] for e in inserts if e["table"] == "claims")
    assert claim_row["patient_last_name"] == "***" and claim_row["date_of_birth"] == "***"
    assert claim_row["billing_npi"] and claim_row["total_charge"] is not None
    assert all("encrypted_payload" not in e["row"] for e in inserts if e["table"] == "failed_claims")
    positions = [Position.parse(e["position"]) for e in events]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


def test_resuming_from_a_saved_position_repeats_and_skips_nothing(
    clean: Settings, processed: Processed, tmp_path: Path
) -> None:
    everything = _read(clean.production_dsn, Position.START)
    state = tmp_path / "cdc.position"
    first = _read(clean.production_dsn, Position.START, limit=7, state_file=state)
    rest = _read(clean.production_dsn, Position.parse(state.read_text()), state_file=state)

    assert len(first) == 7
    # What is out never changes; later reads can only add changes after it.
    assert (first + rest)[: len(everything)] == everything
    assert state.read_text().strip() == (first + rest)[-1]["position"]


def test_a_change_committed_after_a_later_one_is_not_skipped(clean: Settings, production: psycopg.Connection) -> None:
    start = _caught_up(clean.production_dsn)
    with psycopg.connect(clean.production_dsn) as early, psycopg.connect(clean.production_dsn) as late:
        early.execute(INSERT, ("CDC-EARLY",))  # takes its transaction id first, commits last
        late.execute(INSERT, ("CDC-LATE",))
        late.commit()
        time.sleep(0.5)
        seen_meanwhile = _read(clean.production_dsn, start)
        early.commit()
    seen_after = _read_until(clean.production_dsn, start, lambda evs: len(evs) >= 2)

    # A reader going by id alone would have emitted CDC-LATE and moved past CDC-EARLY's smaller id for good.
    assert seen_meanwhile == []
    assert [e["claim_id"] for e in seen_after] == ["CDC-EARLY", "CDC-LATE"]
    production.execute("DELETE FROM claims WHERE claim_id LIKE 'CDC-%%'")
    after = Position.parse(seen_after[-1]["position"])
    deleted = _read_until(clean.production_dsn, after, lambda evs: len(evs) >= 3)
    assert {(e["op"], e["claim_id"], e["row"]) for e in deleted} >= {
        ("delete", "CDC-EARLY", None), ("delete", "CDC-LATE", None)
    }  # fmt: skip


def test_follow_wakes_on_a_commit(clean: Settings, production: psycopg.Connection) -> None:
    start = _caught_up(clean.production_dsn)
    out = io.StringIO()
    follower = threading.Thread(
        target=stream, args=(clean.production_dsn, start, out), kwargs={"follow": True, "limit": 1}
    )
    follower.start()
    time.sleep(0.5)
    production.execute(INSERT, ("CDC-F",))
    follower.join(timeout=WAIT)
    assert not follower.is_alive()
    [line] = out.getvalue().splitlines()
    assert json.loads(line)["claim_id"] == "CDC-F"


def test_cdc_command(clean: Settings, production: psycopg.Connection) -> None:
    start = _caught_up(clean.production_dsn)
    production.execute(INSERT, ("CDC-C",))
    _read_until(clean.production_dsn, start, lambda evs: len(evs) == 1)
    cli = [sys.executable, "-m", "claims_tasks.cli", "cdc", "--from", str(start)]
    masked = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    whole = subprocess.run([*cli, "--include-phi", "--limit", "1"], capture_output=True, text=True, timeout=60)
    assert masked.returncode == 0 and whole.returncode == 0, masked.stderr + whole.stderr
    [event] = [json.loads(x) for x in masked.stdout.splitlines()]
    assert (event["table"], event["op"], event["claim_id"]) == ("claims", "insert", "CDC-C")
    assert event["row"]["patient_last_name"] == "***" and event["row"]["sex"] == "F"
    assert json.loads(whole.stdout)["row"]["patient_last_name"] == "Smith"

    bad = subprocess.run([*cli[:-2], "--from", "yesterday"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "claims-tasks: --from: 'yesterday' is not a position (XID:ID, as `claims-tasks cdc` prints it)"
    ]
