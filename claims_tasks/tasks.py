"""Celery tasks, kept thin: arguments in, pipeline call, retries. The logic lives in pipeline and dispatch."""

from __future__ import annotations

import random
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

from celery import Task
from celery.signals import task_postrun, worker_init, worker_process_init, worker_process_shutdown
from celery.utils.log import get_task_logger

from claims_tasks import dead_letters as dead_letter_flow
from claims_tasks import dispatch as dispatcher
from claims_tasks import failures, heap, monitors, pipeline, warmup
from claims_tasks.celery_app import app
from claims_tasks.config import get_settings
from claims_tasks.crypto import make_cipher
from claims_tasks.errors import ClaimsError, ConfigError, TransientError
from claims_tasks.metrics import MetricsBatch
from claims_tasks.records import ChunkCounts
from claims_tasks.resources import WorkerResources, build_resources
from claims_tasks.scoring import load_served, record_scoring
from claims_tasks.sharding import DEAD_LETTER_QUEUE, RETRY_QUEUE, shard_queue
from db import dead_letters as dead_letter_rows
from db import review as review_rows
from db.dead_letters import DeadLetter
from db.engines import is_transient

if TYPE_CHECKING:
    from ml.serving import Scorer

logger = get_task_logger(__name__)

_resources: WorkerResources | None = None
_resources_lock = threading.Lock()
_scorer: Scorer | None = None


@worker_init.connect
def _check_worker_config(**_: Any) -> None:
    """Refuse to start rather than accept chunks that would all fail: no key, no worker."""
    try:
        make_cipher(get_settings().encryption_keys())
    except ConfigError as exc:
        raise SystemExit(f"claims_tasks worker: {exc}") from None


@worker_init.connect
def _check_odbc_production(**_: Any) -> None:
    """An ODBC production target (SQL Server) is logged into once before the pool forks: an unknown or
    missing driver, a wrong password or an unreachable host stops the worker with one line naming the
    driver and host, instead of every chunk failing (docs/SQLSERVER.md)."""
    from db.writers.dsn import is_odbc
    from db.writers.odbc import check_reachable

    try:
        dsn = get_settings().production_dsn
        if is_odbc(dsn):
            check_reachable(dsn)
    except ClaimsError as exc:
        raise SystemExit(f"claims_tasks worker: {exc}") from None


@worker_init.connect
def _load_model(**_: Any) -> None:
    """Load and check the model once, before the pool forks: refuse to start rather than score with a model
    that is missing, corrupt or built for other code. Pool processes inherit it (plain arrays, no sockets
    or threads yet), so each serves exactly the model checked here, also when one is replaced later
    (max tasks or memory per child) after someone retrained the file on disk."""
    global _scorer
    try:
        _scorer = load_served(get_settings())
    except ClaimsError as exc:
        raise SystemExit(f"claims_tasks worker: {exc}") from None


@worker_process_init.connect
def _forget_parent_resources(**_: Any) -> None:
    # Anything the parent built holds sockets the child must not share; build afresh, here, in the
    # background (claims_tasks/warmup.py), so the first chunk finds pools, reference data and prices ready.
    global _resources, _resources_lock
    _resources, _resources_lock = None, threading.Lock()
    warmup.start(worker_resources)


@worker_process_init.connect
def _pin_model_threads(**_: Any) -> None:
    # The model came with the fork (see _load_model). One OpenMP thread: there is a pool process per core.
    from ml.serving import single_threaded

    single_threaded()


@task_postrun.connect
def _trim_heap(**_: Any) -> None:
    # RSS flat over a million claims (issue 7): what a chunk freed goes back to the OS (claims_tasks/heap.py).
    heap.release_free_memory()


@worker_process_shutdown.connect
def _close_resources(**_: Any) -> None:
    if _resources is not None:
        _resources.close()


def worker_resources() -> WorkerResources:
    global _resources
    with _resources_lock:  # the warm-up thread and the first task may ask at once
        if _resources is None:
            _resources = build_resources(get_settings(), scorer=_scorer)
        return _resources


def retry_delay(retries: int) -> float:
    """Exponential backoff with full jitter: spreads a fleet's retries out after a shared outage."""
    settings = get_settings()
    return random.uniform(0, min(settings.retry_backoff_max, settings.retry_backoff_base * 2.0**retries))


def _retry_or_give_up(task: Task, exc: Exception, args: list[Any], queue: str, shard: int | None = None) -> NoReturn:
    """Transient failures retry with backoff; after the last retry, or at once for an error no retry can
    fix, the task's arguments go to the dead-letter queue. Always raises."""
    attempts = task.request.retries + 1
    if is_transient(exc) and task.request.retries < get_settings().task_max_retries:
        if shard is not None:
            batch = MetricsBatch()
            batch.inc("chunk_retries", shard=shard)
            batch.flush(worker_resources().metrics_redis)
        raise task.retry(
            exc=TransientError(f"{type(exc).__name__}: {exc}"), countdown=retry_delay(task.request.retries),
            max_retries=None,
        ) from None  # fmt: skip
    logger.error("%s gave up after %d attempt(s): %s: %s", task.name, attempts, type(exc).__name__, exc)
    record_dead_letter.apply_async(
        kwargs={
            "task_name": task.name,
            "args": args,
            "queue": queue,
            "exception": f"{type(exc).__name__}: {exc}"[:2000],
            "traceback": traceback.format_exc()[-20_000:],
            "attempts": attempts,
        },
        queue=DEAD_LETTER_QUEUE,
    )
    raise exc


@app.task(bind=True, name="claims_tasks.process_chunk", acks_late=True)
def process_chunk(
    self: Task, batch_id: str, shard: int, claim_ids: list[str], replay_of: int | None = None
) -> dict[str, Any]:
    res = worker_resources()
    started = time.perf_counter()
    try:
        counts = pipeline.process_chunk(res, batch_id, claim_ids)
    except Exception as exc:
        _retry_or_give_up(self, exc, [batch_id, shard, claim_ids], shard_queue(shard), shard)
    for priority, ids in sorted(counts.retry.items()):
        repair_claims.apply_async(args=(ids,), queue=RETRY_QUEUE, priority=priority)
    if replay_of is not None:
        with res.staging.connection() as conn:
            dead_letter_rows.mark_resolved(conn, replay_of)
    metrics = record_chunk(counts, shard, time.perf_counter() - started)
    monitors.record(res, metrics)  # statement timings, RVU cache lookups, pool snapshot
    metrics.flush(res.metrics_redis)
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
    batch.sample("chunk_seconds", seconds)
    for stage, ms in counts.timings_ms.items():
        batch.inc("chunk_stage_seconds", ms / 1000, stage=stage)
    record_scoring(batch, counts.scoring)
    return batch


@contextmanager
def chunk_sender() -> Iterator[dispatcher.SendChunk]:
    """A send function for the dispatcher that publishes every chunk over one broker connection."""
    with app.producer_or_acquire() as producer:

        def send(batch_id: str, shard: int, claim_ids: list[str], priority: int) -> None:
            process_chunk.apply_async(
                args=(batch_id, shard, claim_ids), queue=shard_queue(shard), priority=priority, producer=producer
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
            high_value=settings.high_value_threshold,
        )


@app.task(name="claims_tasks.dispatch", ignore_result=True)
def dispatch() -> dict[str, Any] | None:
    result = run_dispatch()
    if result is None:
        return None
    return {"batch_id": result.batch_id, "claims": result.claims, "chunks": result.chunks}


@app.task(bind=True, name="claims_tasks.repair_claims", acks_late=True)
def repair_claims(self: Task, claim_ids: list[str], replay_of: int | None = None) -> dict[str, Any]:
    """Automated repair of failed claims (claims.retry, by priority): fixed ones to production, the rest to
    manual review."""
    res = worker_resources()
    try:
        counts = failures.repair_claims(res, claim_ids)
    except Exception as exc:
        _retry_or_give_up(self, exc, [claim_ids], RETRY_QUEUE)
    if replay_of is not None:
        with res.staging.connection() as conn:
            dead_letter_rows.mark_resolved(conn, replay_of)
    logger.info("repair %s", counts)
    return {"repaired": counts.repaired, "review": counts.review, "healed": counts.healed}


@app.task(
    name="claims_tasks.record_dead_letter",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=None,
)
def record_dead_letter(
    task_name: str, args: list[Any], queue: str, exception: str, traceback: str, attempts: int
) -> int:
    """Persist a dead letter. Retries until staging answers: the letter must not be lost."""
    res = worker_resources()
    batch_id = args[0] if task_name == process_chunk.name else None
    with res.staging.connection() as conn:
        letter_id = dead_letter_rows.record(
            conn, task_name=task_name, args=args, queue=queue, batch_id=batch_id, exception=exception,
            traceback=traceback, attempts=attempts,
        )  # fmt: skip
    logger.error("dead letter %d: %s %s", letter_id, task_name, exception)
    return letter_id


def publish_letter(letter: DeadLetter) -> None:
    app.send_task(letter.task_name, args=letter.args, kwargs={"replay_of": letter.id}, queue=letter.queue)


@app.task(name="claims_tasks.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    """Beat's look for lost work: claims queued too long (their message is gone), repairs queued too long,
    and dead letters due a replay. Each step is independent; one failing does not stop the others."""
    settings = get_settings()
    done: dict[str, int] = {}
    steps = {
        "requeued_claims": lambda: requeue_stale_claims(settings.requeue_after),
        "requeued_repairs": lambda: requeue_stale_repairs(settings.requeue_after),
        "replayed_dead_letters": lambda: len(
            dead_letter_flow.redrive(settings.staging_dsn, settings.production_dsn, publish_letter,
                                     max_replays=settings.dead_letter_max_replays,
                                     backoff_s=settings.dead_letter_backoff)
        ),
    }  # fmt: skip
    for name, step in steps.items():
        try:
            done[name] = step()
        except Exception as exc:  # a sweep step that fails is retried by the next sweep
            logger.warning("sweep step %s failed: %s", name, exc)
    return done


def requeue_stale_claims(older_than_s: float) -> int:
    settings = get_settings()
    with chunk_sender() as send:
        return dispatcher.requeue_stale(
            settings.staging_dsn, send, older_than_s=older_than_s, shards=settings.shards,
            chunk_size=settings.chunk_size,
        )  # fmt: skip


def requeue_stale_repairs(older_than_s: float) -> int:
    res = worker_resources()
    with res.production.connection() as conn:
        stale = review_rows.stale_retrying(conn, int(older_than_s))
        review_rows.touch(conn, [cid for cid, _ in stale])
        repaired = review_rows.recently_repaired(conn, int(older_than_s))
    if repaired:
        # Repaired in production, still `failed` in the ledger: repair_claims heals them (flips staging).
        with res.staging.connection() as sconn:
            unflipped = {
                cid for (cid,) in sconn.execute(
                    "SELECT claim_id FROM staging.claims WHERE claim_id = ANY(%s) AND status = 'failed'",
                    ([cid for cid, _ in repaired],),
                )
            }  # fmt: skip
        stale += [(cid, prio) for cid, prio in repaired if cid in unflipped]
    by_priority: dict[int, list[str]] = {}
    for claim_id, priority in stale:
        by_priority.setdefault(priority, []).append(claim_id)
    for priority, ids in by_priority.items():
        for i in range(0, len(ids), 500):
            repair_claims.apply_async(args=(ids[i : i + 500],), queue=RETRY_QUEUE, priority=priority)
    return len(stale)
