"""The producer: page `new` claims out of staging, mark them `queued`, fan them out as chunks per shard.

One dispatcher at a time: a PostgreSQL advisory lock held for the whole run, so two beats (or a beat and
an operator) never both act. Even without it, each page is claimed by an UPDATE that re-checks
`status = 'new'`, so a claim can be queued only once.

Staging is committed (claims `queued`, the batch row and its total, in one transaction) before any message
is sent, so a message never names a claim the ledger doesn't show as queued. If the process dies between
commit and send, the claims stay `queued` and are found again by re-dispatch after `requeue_after` seconds.
"""

from __future__ import annotations

import heapq
import logging
import queue
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import psycopg

from claims_tasks.sharding import shard_for
from db import batches, dispatch_pages, engines

logger = logging.getLogger(__name__)

# Arbitrary, fixed: the advisory lock key every dispatcher agrees on.
DISPATCH_LOCK_KEY = 0x436C61696D73  # "Claims"

# send(batch_id, shard, claim_ids, priority): publish one chunk message (Redis priority: 0 is served first).
SendChunk = Callable[[str, int, list[str], int], None]
HIGH_PRIORITY = 0
NORMAL_PRIORITY = 6

# Pages are marked on this many connections at once (db/dispatch_pages.py): marking is PostgreSQL's work,
# a new row version and index entries per claim, and one connection keeps one core busy.
DISPATCH_CONNECTIONS = 2

# Claims whose message was lost (a broker restart, a crash between commit and send): queued too long. A
# queued claim's batch is unfinished (it finishes when every claim has an outcome) and was opened before the
# claim was queued, so only such batches, opened before the cut-off, can hold one; with none, nothing is read.
# With some, staging.claims is scanned: no index names status or queued_at, so that flips stay heap-only
# updates (migration s0009) — the sweep runs every 30 s, the flips a million times a night.
_STALE_BATCHES_SQL = """
SELECT batch_id FROM staging.batches
WHERE status <> 'finished' AND created_at < now() - make_interval(secs => %(older)s)
"""
_STALE_SQL = """
UPDATE staging.claims c SET queued_at = now(), updated_at = now(), attempts = c.attempts + 1
WHERE c.claim_id IN (
    SELECT claim_id FROM staging.claims
    WHERE batch_id = ANY(%(batches)s) AND status = 'queued' AND queued_at < now() - make_interval(secs => %(older)s)
    ORDER BY queued_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
)
RETURNING c.batch_id, c.claim_id, c.facility_id, c.total_charge
"""


@dataclass
class DispatchResult:
    batch_id: str
    claims: int = 0
    chunks: int = 0
    per_shard: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0


def new_batch_id(now: datetime | None = None) -> str:
    """Sortable by time, unique without coordination."""
    now = now or datetime.now(UTC)
    return f"b{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def plan_chunks(
    rows: Sequence[tuple[str, str | None, Decimal | None]],
    shards: int,
    chunk_size: int,
    high_value: float = float("inf"),
) -> list[tuple[int, list[str], int]]:
    """Group (claim_id, facility_id, total_charge) rows by shard and value, and cut each group into chunks
    of sorted ids: (shard, ids, priority). High-value claims get chunks of their own at the top priority."""
    groups: dict[tuple[int, int], list[str]] = defaultdict(list)
    for claim_id, facility_id, charge in rows:
        # is_finite: staging's numeric holds NaN, which `>=` refuses with an exception (that stopped every
        # dispatch at the page holding it); such a claim is not high value, a rule fails it.
        high = charge is not None and charge.is_finite() and charge >= high_value
        priority = HIGH_PRIORITY if high else NORMAL_PRIORITY
        groups[(shard_for(facility_id, shards), priority)].append(claim_id)
    plan = []
    for shard, priority in sorted(groups):
        ids = sorted(groups[(shard, priority)])
        plan.extend((shard, ids[i : i + chunk_size], priority) for i in range(0, len(ids), chunk_size))
    return plan


class ChunkPlanner:
    """plan_chunks for marked pages: (facility_id, high value, sorted claim ids) groups to (shard, ids,
    priority) chunks of chunk_size ids in code-point order. A group's remainder waits for the next page
    (its claims are committed `queued` already, so a message still never names an unqueued claim): chunks
    come out full whatever the page size; flush() gives the last, partial ones."""

    def __init__(self, shards: int, chunk_size: int) -> None:
        self.shards, self.chunk_size = shards, chunk_size
        self.carry: dict[tuple[int, int], list[str]] = {}

    def add(self, groups: Sequence[tuple[str | None, bool, list[str]]]) -> list[tuple[int, list[str], int]]:
        lists: dict[tuple[int, int], list[list[str]]] = defaultdict(list)
        for facility_id, high, ids in groups:
            lists[(shard_for(facility_id, self.shards), HIGH_PRIORITY if high else NORMAL_PRIORITY)].append(ids)
        plan = []
        size = self.chunk_size
        for key in sorted(lists):
            parts = [self.carry.pop(key, []), *lists[key]]
            ids = list(heapq.merge(*parts))
            full = len(ids) - len(ids) % size
            plan.extend((key[0], ids[i : i + size], key[1]) for i in range(0, full, size))
            if full < len(ids):
                self.carry[key] = ids[full:]
        return plan

    def flush(self) -> list[tuple[int, list[str], int]]:
        plan = [(shard, ids, priority) for (shard, priority), ids in sorted(self.carry.items())]
        self.carry.clear()
        return plan


def dispatch(
    staging_dsn: str,
    send: SendChunk,
    *,
    shards: int,
    chunk_size: int,
    page_size: int,
    max_claims: int | None = None,
    lock_key: int = DISPATCH_LOCK_KEY,
    high_value: float = float("inf"),
) -> DispatchResult | None:
    """Dispatch every `new` claim (up to max_claims) as one batch; None if another dispatcher holds the lock
    or there was nothing to do."""
    started = time.perf_counter()
    with engines.connection(staging_dsn, "staging") as sconn:
        locked = sconn.execute("SELECT pg_try_advisory_lock(%s)", (lock_key,)).fetchone()
        sconn.commit()
        if not (locked and locked[0]):
            logger.info("dispatch skipped: another dispatcher holds the lock")
            return None
        result = DispatchResult(batch_id=new_batch_id())
        try:
            _dispatch_pages(sconn, staging_dsn, send, result, shards, chunk_size, page_size, max_claims, high_value)
        finally:
            sconn.rollback()
            if result.claims:
                batches.close_dispatch(sconn, result.batch_id)
            sconn.execute("SELECT pg_advisory_unlock(%s)", (lock_key,))
            sconn.commit()
    if not result.claims:
        return None
    result.seconds = time.perf_counter() - started
    logger.info(
        "dispatched batch=%s claims=%d chunks=%d in %.2fs",
        result.batch_id,
        result.claims,
        result.chunks,
        result.seconds,
    )
    return result


def _dispatch_pages(
    sconn: psycopg.Connection,
    staging_dsn: str,
    send: SendChunk,
    result: DispatchResult,
    shards: int,
    chunk_size: int,
    page_size: int,
    max_claims: int | None,
    high_value: float,
) -> None:
    """Find page bounds on the lock's connection, mark pages on DISPATCH_CONNECTIONS connections at once
    (each page, with its batch counters, committed before its chunks are sent), send from this thread."""
    bounds = list(dispatch_pages.page_bounds(sconn, page_size, max_claims))
    sconn.rollback()
    if not bounds:
        return
    batches.open_batch(sconn, result.batch_id, shards, chunk_size)
    sconn.commit()
    spare: queue.SimpleQueue[psycopg.Connection] = queue.SimpleQueue()

    def mark(after: str, upto: str | None) -> tuple[int, list[tuple[str | None, bool, list[str]]]]:
        conn = spare.get()
        try:
            groups = dispatch_pages.mark_page(conn, result.batch_id, after, upto, high_value)
            marked = sum(len(ids) for _, _, ids in groups)
            if marked:
                batches.add_to_batch(conn, result.batch_id, marked, 0)
            conn.commit()
            return marked, groups
        except BaseException:
            conn.rollback()
            raise
        finally:
            spare.put(conn)

    planner = ChunkPlanner(shards, chunk_size)

    def send_all(plan: list[tuple[int, list[str], int]]) -> None:
        for shard, ids, priority in plan:
            send(result.batch_id, shard, ids, priority)
            result.per_shard[shard] = result.per_shard.get(shard, 0) + len(ids)
        result.chunks += len(plan)

    with ExitStack() as stack:
        for _ in range(min(DISPATCH_CONNECTIONS, len(bounds))):
            spare.put(stack.enter_context(engines.connection(staging_dsn, "staging")))
        pool = stack.enter_context(ThreadPoolExecutor(DISPATCH_CONNECTIONS, thread_name_prefix="dispatch"))
        for done in as_completed([pool.submit(mark, after, upto) for after, upto in bounds]):
            marked, groups = done.result()
            result.claims += marked
            send_all(planner.add(groups))
        send_all(planner.flush())
    if result.claims:
        batches.add_to_batch(sconn, result.batch_id, 0, result.chunks)
        sconn.commit()
    else:  # another dispatcher (or nobody) took them between bounds and marking
        batches.drop_empty_batch(sconn, result.batch_id)
        sconn.commit()


def requeue_stale(
    staging_dsn: str,
    send: SendChunk,
    *,
    older_than_s: float,
    shards: int,
    chunk_size: int,
    limit: int = 200_000,
    lock_key: int = DISPATCH_LOCK_KEY,
) -> int:
    """Send again the claims `queued` for longer than older_than_s: the ledger, not the broker, is the source
    of truth, so a message Redis lost (it keeps nothing on disk) is recovered here. They keep their batch;
    if the first message was merely slow, the pipeline's idempotency makes the second one a no-op."""
    with engines.connection(staging_dsn, "staging") as sconn:
        locked = sconn.execute("SELECT pg_try_advisory_lock(%s)", (lock_key,)).fetchone()
        sconn.commit()
        if not (locked and locked[0]):
            return 0
        try:
            params = {"older": older_than_s, "limit": limit}
            params["batches"] = [b for (b,) in sconn.execute(_STALE_BATCHES_SQL, params)]
            rows = sconn.execute(_STALE_SQL, params).fetchall() if params["batches"] else []
            sconn.commit()
        finally:
            sconn.execute("SELECT pg_advisory_unlock(%s)", (lock_key,))
            sconn.commit()
    by_batch: dict[str, list[tuple[str, str | None, Decimal | None]]] = defaultdict(list)
    for batch_id, claim_id, facility_id, charge in rows:
        by_batch[batch_id].append((claim_id, facility_id, charge))
    for batch_id, members in by_batch.items():
        for shard, ids, _priority in plan_chunks(members, shards, chunk_size):
            send(batch_id, shard, ids, HIGH_PRIORITY)
    if rows:
        logger.warning("re-dispatched %d claims queued longer than %ss", len(rows), older_than_s)
    return len(rows)
