"""Metrics recorded by separate processes add up in Redis and come out in Prometheus text format."""

from __future__ import annotations

import redis
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from claims_tasks.config import Settings
from claims_tasks.metrics import MetricsBatch, RedisCollector


def _families(client: redis.Redis) -> dict[str, list]:
    registry = CollectorRegistry()
    registry.register(RedisCollector(client))
    text = generate_latest(registry).decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_batches_from_two_writers_add_up(clean: Settings) -> None:
    client = redis.Redis.from_url(clean.broker_url)
    for seconds in (0.02, 0.3):  # as two worker processes would
        batch = MetricsBatch()
        batch.inc("claims_processed", 900, shard=1, outcome="done")
        batch.inc("claims_failed", 100, shard=1, category="coding")
        batch.observe("chunk_duration_seconds", seconds, shard=1)
        batch.flush(client)

    families = _families(client)
    done = [s for s in families["claims_processed"] if s.labels == {"shard": "1", "outcome": "done"}]
    assert [s.value for s in done] == [1800.0]
    buckets = {s.labels["le"]: s.value for s in families["chunk_duration_seconds"]
               if s.name.endswith("_bucket")}  # fmt: skip
    assert buckets["0.01"] == 0 and buckets["0.025"] == 1 and buckets["0.5"] == 2 and buckets["+Inf"] == 2
    count = [s.value for s in families["chunk_duration_seconds"] if s.name.endswith("_count")]
    assert count == [2.0]


def test_undeclared_metric_or_wrong_labels_are_refused() -> None:
    import pytest

    batch = MetricsBatch()
    with pytest.raises(KeyError):
        batch.inc("no_such_metric")
    with pytest.raises(ValueError, match="labels"):
        batch.inc("claims_processed", shard=1)


def test_unreachable_redis_never_fails_the_caller() -> None:
    batch = MetricsBatch()
    batch.inc("chunks_processed", shard=0)
    batch.flush(redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5))
