"""Connection-pool statistics per process, for /metrics.

Worker processes (prefork children, on many machines) write a snapshot of their pools' psycopg_pool
statistics into one Redis hash after each chunk, a field per process; the API reads the hash at scrape
time and adds its own pools live. A field not refreshed for STALE_AFTER seconds belongs to a process that
is gone: the collector drops it, so replaced children do not leave series behind forever.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

POOL_STATS_KEY = "claims_tasks:pool_stats"
STALE_AFTER = 600.0

# psycopg_pool's get_stats() names: gauges (current state) and counters (since the pool opened).
_GAUGES = {
    "pool_size": ("db_pool_size", "Connections open in the pool (idle or in use)."),
    "pool_available": ("db_pool_idle", "Connections idle in the pool."),
    "in_use": ("db_pool_in_use", "Connections lent out by the pool."),
    "requests_waiting": ("db_pool_waiting", "Requests waiting for a connection now."),
    "pool_max": ("db_pool_max", "Most connections the pool may open."),
}
_COUNTERS = {
    "requests_num": ("db_pool_requests", "Connections requested from the pool."),
    "requests_queued": ("db_pool_requests_queued", "Requests that had to wait for a connection."),
    "requests_wait_ms": ("db_pool_wait_seconds", "Time spent waiting for a connection."),
    "connections_num": ("db_pool_connections_opened", "Connections the pool opened."),
}


class _Pool(Protocol):
    def get_stats(self) -> dict[str, int]: ...


def process_name(role: str = "worker") -> str:
    return f"{role}:{socket.gethostname()}:{os.getpid()}"


def snapshot(pools: Mapping[str, _Pool]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name, pool in pools.items():
        stats = pool.get_stats()
        figures = {k: int(stats.get(k, 0)) for k in (*_GAUGES, *_COUNTERS) if k != "in_use"}
        figures["in_use"] = figures["pool_size"] - figures["pool_available"]
        out[name] = figures
    return out


def record(client: redis.Redis, process: str, pools: Mapping[str, _Pool]) -> None:
    """Best effort, like all metrics: a Redis hiccup never fails the chunk."""
    try:
        doc = json.dumps({"at": time.time(), "pools": snapshot(pools)}, separators=(",", ":"))
        client.hset(POOL_STATS_KEY, process, doc)
    except redis.RedisError as exc:
        logger.warning("pool stats not recorded: %s", exc)


class PoolStatsCollector(Collector):
    """The fleet's pool snapshots from Redis, plus this process's own pools read live."""

    def __init__(
        self,
        client: redis.Redis,
        local: Callable[[], Mapping[str, _Pool]] | None = None,
        local_process: str | None = None,
    ) -> None:
        self.client = client
        self.local = local
        self.local_process = local_process or process_name("api")

    def _snapshots(self) -> dict[str, dict[str, dict[str, int]]]:
        now = time.time()
        found: dict[str, dict[str, dict[str, int]]] = {}
        stale: list[bytes] = []
        for field, raw in self.client.hgetall(POOL_STATS_KEY).items():
            try:
                doc: dict[str, Any] = json.loads(raw)
            except ValueError:
                stale.append(field)
                continue
            if now - float(doc.get("at", 0)) > STALE_AFTER:
                stale.append(field)
            else:
                found[field.decode()] = doc.get("pools", {})
        if stale:
            self.client.hdel(POOL_STATS_KEY, *stale)
        if self.local is not None:
            found[self.local_process] = snapshot(self.local())
        return found

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        snapshots = self._snapshots()
        labels = ("process", "pool")
        for key, (name, doc) in _GAUGES.items():
            gauge = GaugeMetricFamily(name, doc, labels=labels)
            for process, pools in snapshots.items():
                for pool, figures in pools.items():
                    gauge.add_metric([process, pool], figures.get(key, 0))
            yield gauge
        for key, (name, doc) in _COUNTERS.items():
            counter = CounterMetricFamily(name, doc, labels=labels)
            scale = 1000.0 if key.endswith("_ms") else 1.0
            for process, pools in snapshots.items():
                for pool, figures in pools.items():
                    counter.add_metric([process, pool], figures.get(key, 0) / scale)
            yield counter
