"""The producer: page `new` claims out of staging, mark them `queued`, fan them out as chunks per shard.

One dispatcher at a time: a PostgreSQL advisory lock held for the whole run, so two beats (or a beat and
an operator) never both act. Even without it, each page is claimed by an UPDATE that re-checks
`status = 'new'`, so a claim can be queued only once.

Staging is committed (claims `queued`, the batch row and its total, in one transaction) before any message
is sent, so a message never names a claim the ledger doesn't show as queued. If the process dies between
commit and send, the claims stay `queued` and are found again by re-dispatch after `requeue_after` seconds.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import psycopg

from claims_tasks.sharding import shard_for
from db import batches, engines

logger = logging.getLogger(__name__)

# Arbitrary, fixed: the advisory lock key every dispatcher agrees on.
DISPATCH_LOCK_KEY = 0x436C61696D73  # "Claims"

# send(batch_id, shard, claim_ids, priority): publish one chunk message (Redis priority: 0 is served first).
SendChunk = Callable[[str, int, list[str], int], None]
HIGH_PRIORITY = 0
NORMAL_PRIORITY = 6

_PAGE_SQL = """
WITH page AS (
    SELECT claim_id FROM staging.claims
    WHERE status = 'new' AND claim_id > %(last)s
    ORDER BY claim_id LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE staging.claims c
SET status = 'queued', batch_id = %(batch)s, queued_at = now(), updated_at = now(), attempts = c.attempts + 1
FROM page WHERE c.claim_id = page.claim_id AND c.status = 'new'
RETURNING c.claim_id, c.facility_id, c.total_charge
"""

# Claims whose message was lost (a broker restart, a crash between commit and send): queued too long.
_STALE_SQL = """
UPDATE staging.claims c SET queued_at = now(), updated_at = now(), attempts = c.attempts + 1
WHERE c.claim_id IN (
    SELECT claim_id FROM staging.claims
    WHERE status = 'queued' AND queued_at < now() - make_interval(secs => %(older)s)
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
        priority = HIGH_PRIORITY if charge is not None and charge >= high_value else NORMAL_PRIORITY
        groups[(shard_for(facility_id, shards), priority)].append(claim_id)
    plan = []
    for shard, priority in sorted(groups):
        ids = sorted(groups[(shard, priority)])
        plan.extend((shard, ids[i : i + chunk_size], priority) for i in range(0, len(ids), chunk_size))
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
            _dispatch_pages(sconn, send, result, shards, chunk_size, page_size, max_claims, high_value)
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
    send: SendChunk,
    result: DispatchResult,
    shards: int,
    chunk_size: int,
    page_size: int,
    max_claims: int | None,
    high_value: float,
) -> None:
    last = ""
    while max_claims is None or result.claims < max_claims:
        limit = page_size if max_claims is None else min(page_size, max_claims - result.claims)
        rows = sconn.execute(_PAGE_SQL, {"last": last, "limit": limit, "batch": result.batch_id}).fetchall()
        if not rows:
            sconn.rollback()
            return
        if not result.claims:
            batches.open_batch(sconn, result.batch_id, shards, chunk_size)
        plan = plan_chunks(rows, shards, chunk_size, high_value)
        batches.add_to_batch(sconn, result.batch_id, len(rows), len(plan))
        sconn.commit()
        for shard, ids, priority in plan:
            send(result.batch_id, shard, ids, priority)
            result.per_shard[shard] = result.per_shard.get(shard, 0) + len(ids)
        result.claims += len(rows)
        result.chunks += len(plan)
        last = max(row[0] for row in rows)


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
            rows = sconn.execute(_STALE_SQL, {"older": older_than_s, "limit": limit}).fetchall()
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
