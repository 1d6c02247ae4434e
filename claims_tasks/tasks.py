"""Celery tasks, kept thin: arguments in, pipeline call, retries. The logic lives in pipeline and dispatch."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Task
from celery.signals import worker_init, worker_process_init, worker_process_shutdown
from celery.utils.log import get_task_logger

from claims_tasks import dispatch as dispatcher
from claims_tasks import pipeline
from claims_tasks.celery_app import app
from claims_tasks.config import get_settings
from claims_tasks.crypto import make_cipher
from claims_tasks.errors import ConfigError, TransientError
from claims_tasks.metrics import MetricsBatch
from claims_tasks.records import ChunkCounts
from claims_tasks.resources import WorkerResources, build_resources
from claims_tasks.sharding import shard_queue
from db.engines import is_transient

logger = get_task_logger(__name__)

_resources: WorkerResources | None = None


@worker_init.connect
def _check_worker_config(**_: Any) -> None:
    """Refuse to start rather than accept chunks that would all fail: no key, no worker."""
    try:
        make_cipher(get_settings().encryption_keys())
    except ConfigError as exc:
        raise SystemExit(f"claims_tasks worker: {exc}") from None


@worker_process_init.connect
def _forget_parent_resources(**_: Any) -> None:
    # Anything the parent built holds sockets the child must not share; build afresh on first use.
    global _resources
    _resources = None


@worker_process_shutdown.connect
def _close_resources(**_: Any) -> None:
    if _resources is not None:
        _resources.close()


def worker_resources() -> WorkerResources:
    global _resources
    if _resources is None:
        _resources = build_resources(get_settings())
    return _resources


def retry_delay(retries: int) -> float:
    """Exponential backoff with full jitter, capped at five minutes."""
    return random.uniform(0, min(300.0, 2.0 ** (retries + 1)))


@app.task(bind=True, name="claims_tasks.process_chunk", acks_late=True)
def process_chunk(self: Task, batch_id: str, shard: int, claim_ids: list[str]) -> dict[str, Any]:
    res = worker_resources()
    started = time.perf_counter()
    try:
        counts = pipeline.process_chunk(res, batch_id, claim_ids)
    except Exception as exc:
        if not is_transient(exc):
            raise
        batch = MetricsBatch()
        batch.inc("chunk_retries", shard=shard)
        batch.flush(res.metrics_redis)
        raise self.retry(
            exc=TransientError(f"{type(exc).__name__}: {exc}"),
            countdown=retry_delay(self.request.retries),
            max_retries=get_settings().task_max_retries,
        ) from None
    record_chunk(counts, shard, time.perf_counter() - started).flush(res.metrics_redis)
    logger.info("chunk batch=%s shard=%d %s", batch_id, shard, counts.as_dict())
    return counts.as_dict()


def record_chunk(counts: ChunkCounts, shard: int, seconds: float) -> MetricsBatch:
    batch = MetricsBatch()
    for outcome in ("done", "failed", "review"):
        if n := getattr(counts, outcome):
            batch.inc("claims_processed", n, shard=shard, outcome=outcome)
    for category, n in counts.categories.items():
        batch.inc("claims_failed", n, shard=shard, category=category)
    batch.inc("chunks_processed", shard=shard)
    batch.observe("chunk_duration_seconds", seconds, shard=shard)
    for stage, ms in counts.timings_ms.items():
        batch.inc("chunk_stage_seconds", ms / 1000, stage=stage)
    return batch


@contextmanager
def chunk_sender() -> Iterator[dispatcher.SendChunk]:
    """A send function for the dispatcher that publishes every chunk over one broker connection."""
    with app.producer_or_acquire() as producer:

        def send(batch_id: str, shard: int, claim_ids: list[str]) -> None:
            process_chunk.apply_async(
                args=(batch_id, shard, claim_ids), queue=shard_queue(shard), producer=producer
            )

        yield send


def run_dispatch(max_claims: int | None = None) -> dispatcher.DispatchResult | None:
    settings = get_settings()
    with chunk_sender() as send:
        return dispatcher.dispatch(
            settings.staging_dsn,
            send,
            shards=settings.shards,
            chunk_size=settings.chunk_size,
            page_size=settings.dispatch_page_size,
            max_claims=max_claims,
        )


@app.task(name="claims_tasks.dispatch", ignore_result=True)
def dispatch() -> dict[str, Any] | None:
    result = run_dispatch()
    if result is None:
        return None
    return {"batch_id": result.batch_id, "claims": result.claims, "chunks": result.chunks}
