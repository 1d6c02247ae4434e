"""/metrics: what workers recorded (Redis), what is true at scrape time (queues, backlog, pools), and the
API's own request and query timings. One registry per app, so two apps in one process never collide."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from celery import Celery
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from psycopg_pool import ConnectionPool

from api.fleet import queue_names, unacked
from claims_tasks.broker import queue_depths
from claims_tasks.metrics import LATENCY_BUCKETS, RedisCollector
from claims_tasks.pool_stats import PoolStatsCollector
from db import queries

logger = logging.getLogger(__name__)

REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class FleetCollector(Collector):
    """Gauges computed when Prometheus scrapes: queue depths, unacked chunks, failed-claim backlog, dead
    letters. A part that cannot be read is left out of this scrape (and logged), never a failed scrape."""

    def __init__(
        self, client: redis.Redis, broker_url: str, celery_app: Celery, pools: dict[str, ConnectionPool]
    ) -> None:
        self.client = client
        self.broker_url = broker_url
        self.celery_app = celery_app
        self.pools = pools

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            depth = GaugeMetricFamily("queue_depth", "Messages waiting per queue.", labels=("queue",))
            for name, n in queue_depths(self.broker_url, queue_names(self.celery_app)).items():
                depth.add_metric([name], n)
            yield depth
            yield GaugeMetricFamily(
                "chunks_unacked", "Chunk messages delivered and not yet acknowledged.", value=unacked(self.client)
            )
        except redis.RedisError as exc:
            logger.warning("queue metrics skipped: %s", exc)
        try:
            with self.pools["production"].connection() as conn:
                backlog = queries.failed_claim_counts(conn)
            fam = GaugeMetricFamily(
                "failed_claims", "Failed claims by category and status.", labels=("category", "status")
            )
            for (category, status), n in sorted(backlog.items()):
                fam.add_metric([category, status], n)
            yield fam
            with self.pools["staging"].connection() as conn:
                dead = queries.dead_letter_counts(conn)
            if dead is not None:
                fam = GaugeMetricFamily("dead_letters", "Dead-lettered chunks by status.", labels=("status",))
                for status, n in sorted(dead.items()):
                    fam.add_metric([status], n)
                yield fam
        except Exception as exc:
            logger.warning("database metrics skipped: %s", exc)


class Telemetry:
    def __init__(
        self, redis: redis.Redis, broker_url: str, celery_app: Celery, pools: dict[str, ConnectionPool]
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "api_request_duration_seconds",
            "API request wall time by route template.",
            ("route", "method", "status"),
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.queries = Histogram(
            "api_query_duration_seconds",
            "API database query wall time by query.",
            ("query",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(RedisCollector(redis))
        self.registry.register(PoolStatsCollector(redis, local=lambda: pools))
        self.registry.register(FleetCollector(redis, broker_url, celery_app, pools))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).observe(seconds)

    @contextmanager
    def timed(self, query: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.queries.labels(query).observe(time.perf_counter() - started)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
