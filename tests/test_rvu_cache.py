"""The RVU price cache on the real staging database and Redis: read through memory, Redis and PostgreSQL;
invalidated by the table's own version, which every change bumps and nothing else does; its lookups, the
statements' timings and the pools reach the fleet's metrics after a chunk."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal

import psycopg
import pytest
import redis

from claims_tasks import monitors, pipeline, resources
from claims_tasks.config import Settings
from claims_tasks.metrics import METRICS_KEY, MetricsBatch
from claims_tasks.resources import WorkerResources, build_resources
from claims_tasks.rvu_cache import RvuCache
from claims_tasks.warmup import warm
from db import query_tracker
from db.reference import load_reference
from db.rvu import price_per_unit, rvu_version
from tests.factories import insert_claims, make_valid_claims
from tests.test_pipeline import _dispatch
from tests.workers import WorkerProcess


@pytest.fixture
def res(clean: Settings) -> Iterator[WorkerResources]:
    res = build_resources(clean)
    yield res
    res.close()


def _price(staging: psycopg.Connection, code: str) -> Decimal:
    row = staging.execute(
        "SELECT work_rvu, pe_rvu, mp_rvu, conversion_factor FROM staging.rvu_values WHERE procedure_code = %s",
        (code,),
    ).fetchone()
    assert row is not None
    return price_per_unit(*row)


def test_prices_read_through_memory_redis_and_the_database(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection
) -> None:
    client = redis.Redis.from_url(clean.broker_url)
    first = RvuCache(client, res.staging.connection)
    with res.staging.connection() as conn:
        first.refresh(conn)
    assert first.prices(["99213", "85025", "NOPE1", None]) == {
        "99213": _price(staging, "99213"), "85025": _price(staging, "85025")
    }  # fmt: skip
    assert first.drain_counts() == {"database": 2}
    first.prices(["99213"])
    assert first.drain_counts() == {"memory": 1}

    other = RvuCache(client, res.staging.connection)  # another process: the fleet's Redis has them
    with res.staging.connection() as conn:
        other.refresh(conn)
    assert other.prices(["99213", "85025", "90471"])["85025"] == _price(staging, "85025")
    assert other.drain_counts() == {"redis": 2, "database": 1}


def test_a_change_to_the_table_bumps_its_version_and_nothing_else_does(settings: Settings) -> None:
    with psycopg.connect(settings.staging_dsn) as conn:
        before = rvu_version(conn)
        load_reference(conn)  # changes nothing: no bump
        conn.commit()
        assert rvu_version(conn) == before
        conn.execute("UPDATE staging.rvu_values SET work_rvu = work_rvu WHERE procedure_code = 'NONE'")
        assert rvu_version(conn) == before
        conn.execute("UPDATE staging.rvu_values SET work_rvu = work_rvu + 1 WHERE procedure_code = '99213'")
        assert rvu_version(conn) == before + 1
        conn.rollback()


def test_a_worker_prices_with_the_new_table_within_the_check_interval(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    view = res.reference().rvu_per_unit
    old = view["99213"]
    try:
        staging.execute("UPDATE staging.rvu_values SET work_rvu = work_rvu + 1 WHERE procedure_code = '99213'")
        assert res.reference().rvu_per_unit["99213"] == old  # within the check interval: as it was
        time.sleep(resources.REFERENCE_CHECK_SECONDS + 0.2)
        new = res.reference().rvu_per_unit["99213"]
        assert new == _price(staging, "99213") != old
        [claim] = make_valid_claims(staging, 1, prefix="R")
        insert_claims(staging, [claim])
        [(batch_id, _shard, ids)] = _dispatch(clean)
        assert pipeline.process_chunk(res, batch_id, ids).done == 1
        stored = production.execute("SELECT expected_reimbursement FROM claims").fetchone()
        assert stored == (pipeline.expected_reimbursement(claim, res.reference().rvu_per_unit),)
    finally:
        with psycopg.connect(clean.staging_dsn) as conn:  # the shipped values again
            load_reference(conn)
            conn.commit()


def test_a_chunk_reports_cache_lookups_statement_timings_and_slow_statements(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert warm(res)["rvu"] >= 0
    insert_claims(staging, make_valid_claims(staging, 50, facilities=1, prefix="M"))
    [(batch_id, _shard, ids)] = _dispatch(clean)
    monkeypatch.setattr(query_tracker.TRACKER, "slow_seconds", 0.0)  # every statement counts as slow
    pipeline.process_chunk(res, batch_id, ids)
    metrics = MetricsBatch()
    monitors.record(res, metrics)
    metrics.flush(res.metrics_redis)

    client = redis.Redis.from_url(clean.broker_url)
    fields = {k.decode().split("|")[0]: 0 for k in client.hgetall(METRICS_KEY)}
    assert {"rvu_cache_lookups", "query_calls", "query_seconds"} <= set(fields)
    lookups = {
        json.loads(k.decode().split("|")[1])["result"]: float(v)
        for k, v in client.hgetall(METRICS_KEY).items()
        if k.startswith(b"rvu_cache_lookups|")
    }
    assert lookups.get("memory", 0) > 0 and "database" not in lookups  # warmed: no database lookups
    slow = [json.loads(e) for e in client.lrange(query_tracker.SLOW_LOG_KEY, 0, -1)]
    texts = client.hgetall(query_tracker.QUERY_TEXTS_KEY)
    assert slow and all(e["statement"].encode() in texts for e in slow)
    assert any(b"staging.claims" in t for t in texts.values())
    assert client.hget("claims_tasks:pool_stats", b"x") is None and client.hlen("claims_tasks:pool_stats") >= 1


def test_each_pool_process_reports_its_warm_up(clean: Settings, worker: WorkerProcess) -> None:
    """A real worker's pool processes warm up before their first chunk and count it in the fleet's
    metrics, with the seconds per step: how a deployment (and the benchmark) knows the fleet is warm."""
    client = redis.Redis.from_url(clean.broker_url)

    def series(name: str, label: str) -> dict[str, float]:
        return {
            json.loads(k.decode().split("|")[1])[label]: float(v)
            for k, v in client.hgetall(METRICS_KEY).items()
            if k.decode().startswith(name + "|")
        }

    deadline = time.monotonic() + 60
    while series("pool_process_warmups", "result").get("ok", 0) < worker.concurrency and time.monotonic() < deadline:
        time.sleep(0.2)
    assert series("pool_process_warmups", "result") == {"ok": worker.concurrency}
    assert {"pools", "reference", "rvu"} <= set(series("pool_process_warmup_seconds", "step"))
