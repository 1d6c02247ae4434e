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
