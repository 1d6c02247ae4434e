"""Dispatch: each claim queued once, chunks routed to their facility's shard queue, ids not payloads."""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter

import psycopg
import redis

from claims_tasks import dispatch as dispatcher
from claims_tasks.broker import priority_lists
from claims_tasks.config import Settings
from claims_tasks.sharding import shard_for, shard_queue
from claims_tasks.tasks import run_dispatch
from tests.factories import insert_claims, make_valid_claims


def _messages(settings: Settings, queue: str) -> list[list]:
    client = redis.Redis.from_url(settings.broker_url)
    out = []
    raws = [raw for key in priority_lists(queue) for raw in client.lrange(key, 0, -1)]
    for raw in raws:
        envelope = json.loads(raw)
        assert envelope["content-type"] == "application/json"
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        out.append(args)
    return out


def test_chunks_land_on_their_facility_shard_queue(clean: Settings, staging: psycopg.Connection) -> None:
    claims = make_valid_claims(staging, 2_500, facilities=12)
    insert_claims(staging, claims)
    facility = {c.claim_id: c.facility_id for c in claims}

    result = run_dispatch()

    assert result is not None and result.claims == 2_500
    seen: list[str] = []
    for shard in range(clean.shards):
        for batch_id, msg_shard, ids in _messages(clean, shard_queue(shard)):
            assert batch_id == result.batch_id
            assert msg_shard == shard
            assert 0 < len(ids) <= clean.chunk_size
            assert all(isinstance(i, str) for i in ids), "messages carry ids, not claim payloads"
            assert {shard_for(facility[i], clean.shards) for i in ids} == {shard}
            seen.extend(ids)
    assert sorted(seen) == sorted(facility)
    states = dict(staging.execute("SELECT status, count(*) FROM staging.claims GROUP BY 1").fetchall())
    assert states == {"queued": 2_500}
    batch_ids = staging.execute("SELECT DISTINCT batch_id FROM staging.claims").fetchall()
    assert batch_ids == [(result.batch_id,)]


def test_two_dispatchers_at_once_queue_each_claim_once(clean: Settings, staging: psycopg.Connection) -> None:
    insert_claims(staging, make_valid_claims(staging, 12_000, facilities=16))
    sent: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)

    def send(batch_id: str, shard: int, ids: list[str], priority: int) -> None:
        with lock:
            sent.extend(ids)

    def run(lock_key: int) -> None:
        barrier.wait()
        dispatcher.dispatch(
            clean.staging_dsn,
            send,
            shards=clean.shards,
            chunk_size=100,
            page_size=500,
            lock_key=lock_key,
        )

    # Distinct lock keys: the advisory lock is bypassed on purpose, so this shows the row-level guard
    # (UPDATE ... WHERE status = 'new' over FOR UPDATE SKIP LOCKED) on its own keeps claims single.
    threads = [threading.Thread(target=run, args=(k,)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    dupes = [cid for cid, n in Counter(sent).items() if n > 1]
    assert dupes == []
    assert len(sent) == 12_000
    queued = staging.execute(
        "SELECT count(*), count(DISTINCT batch_id) FROM staging.claims WHERE status = 'queued'"
    ).fetchone()
    assert queued is not None and queued[0] == 12_000


def test_advisory_lock_lets_one_dispatcher_act(clean: Settings, staging: psycopg.Connection) -> None:
    insert_claims(staging, make_valid_claims(staging, 50))
    with psycopg.connect(clean.staging_dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (dispatcher.DISPATCH_LOCK_KEY,))
        assert run_dispatch() is None
        assert staging.execute("SELECT count(*) FROM staging.claims WHERE status = 'new'").fetchone() == (50,)
    result = run_dispatch()
    assert result is not None and result.claims == 50


def test_nothing_new_dispatches_nothing(clean: Settings) -> None:
    assert run_dispatch() is None


def test_every_way_a_claim_becomes_new_reaches_the_dispatcher(clean: Settings, staging: psycopg.Connection) -> None:
    """The dispatcher reads staging.dispatch_inbox, not a status index (migration s0009): claims inserted
    `new` and claims set back to `new` are found, each is queued once, and an entry whose claim is gone or
    no longer new is dropped without effect."""
    claims = make_valid_claims(staging, 300, facilities=4)
    insert_claims(staging, claims)
    staging.execute("INSERT INTO staging.dispatch_inbox VALUES ('GONE-1')")  # its claim was deleted
    staging.commit()
    first = run_dispatch()
    assert first is not None and first.claims == 300
    assert staging.execute("SELECT count(*) FROM staging.dispatch_inbox").fetchone() == (0,)

    # An operator sends two claims round again; one more is inserted queued (not new) by hand.
    again = [claims[0].claim_id, claims[1].claim_id]
    staging.execute("UPDATE staging.claims SET status = 'new' WHERE claim_id = ANY(%s)", (again,))
    staging.execute("UPDATE staging.claims SET updated_at = now() WHERE claim_id = %s", (claims[2].claim_id,))
    staging.commit()
    assert sorted(r[0] for r in staging.execute("SELECT claim_id FROM staging.dispatch_inbox")) == sorted(again)

    second = run_dispatch()
    assert second is not None and second.claims == 2
    queued = dict(staging.execute("SELECT claim_id, batch_id FROM staging.claims WHERE claim_id = ANY(%s)", (again,)))
    assert set(queued.values()) == {second.batch_id}
    assert staging.execute("SELECT count(*) FROM staging.claims WHERE status = 'queued'").fetchone() == (300,)
    assert run_dispatch() is None


def test_status_flips_are_heap_only_updates(clean: Settings, staging: psycopg.Connection) -> None:
    """No index names a column the two flips change, so PostgreSQL updates the rows in place (HOT): the
    cost the status stage and dispatch had paid for five index entries per claim (docs/PERFORMANCE.md)."""
    indexed = {
        col
        for (col,) in staging.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
            " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'staging.claims'::regclass"
        )
    }
    predicates = staging.execute(
        "SELECT count(*) FROM pg_index WHERE indrelid = 'staging.claims'::regclass AND indpred IS NOT NULL"
    ).fetchone()
    assert indexed.isdisjoint({"status", "batch_id", "queued_at", "updated_at", "attempts"}), indexed
    assert predicates == (0,)

    insert_claims(staging, make_valid_claims(staging, 2_000, facilities=4))
    staging.commit()
    before = _updates(staging)
    assert run_dispatch() is not None
    after = _updates(staging)
    updated, hot = after[0] - before[0], after[1] - before[1]
    assert updated == 2_000
    assert hot >= 0.9 * updated, f"only {hot} of {updated} dispatch flips were heap-only"


def _updates(conn: psycopg.Connection) -> tuple[int, int]:
    """This database's count of updates and heap-only updates of staging.claims, as of now."""
    conn.commit()
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relid = 'staging.claims'::regclass"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])
