"""Pool statistics per process through Redis: a fresh snapshot is served, one from a process gone quiet for
longer than STALE_AFTER is dropped (so replaced prefork children leave no series behind)."""

from __future__ import annotations

import json
import time

import redis
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import ConnectionPool

from claims_tasks import pool_stats
from claims_tasks.config import Settings


def test_fresh_snapshots_are_served_and_stale_ones_dropped(clean: Settings) -> None:
    client = redis.Redis.from_url(clean.broker_url)
    with ConnectionPool(clean.staging_dsn, min_size=2, max_size=3, open=True) as pool:
        pool.wait()
        with pool.connection():
            pool_stats.record(client, "worker:host-a:11", {"staging": pool})
    gone = {"at": time.time() - pool_stats.STALE_AFTER - 1, "pools": {"staging": {"pool_size": 9}}}
    client.hset(pool_stats.POOL_STATS_KEY, "worker:host-b:22", json.dumps(gone))

    registry = CollectorRegistry()
    registry.register(pool_stats.PoolStatsCollector(client))
    families = {f.name: f.samples for f in text_string_to_metric_families(generate_latest(registry).decode())}

    size = {s.labels["process"]: s.value for s in families["db_pool_size"]}
    in_use = {s.labels["process"]: s.value for s in families["db_pool_in_use"]}
    assert size == {"worker:host-a:11": 2.0}
    assert in_use == {"worker:host-a:11": 1.0}  # recorded while one connection was lent out
    assert [s.value for s in families["db_pool_max"]] == [3.0]
    assert client.hkeys(pool_stats.POOL_STATS_KEY) == [b"worker:host-a:11"]


def test_recording_never_fails_the_caller() -> None:
    class Idle:
        def get_stats(self) -> dict[str, int]:
            return {"pool_size": 1, "pool_available": 1}

    pool_stats.record(redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2), "p", {"x": Idle()})
