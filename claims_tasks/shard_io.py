"""Production claims over facility shards (CLAIMS_PRODUCTION_SHARDS), seen from a chunk or a repair.

Claims, lines and diagnoses of a facility live in its shard (crc32(facility) % shards, as its queue);
failed claims, review, batch score histograms and everything else live in the home database
(CLAIMS_PRODUCTION_DSN). A chunk therefore writes two transactions when sharded — its valid claims to the
shard, then its failed claims to home — and stays idempotent the same way as in one database: a redelivery
asks every shard and home what is already there (outcomes) and writes only the rest; a compensation
removes from both. Lookups that must see all of production (duplicates) ask every shard.

Unsharded, every function here is exactly the one-database operation on the home connection it is given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager

import psycopg
from psycopg_pool import ConnectionPool

from claims_tasks.resources import WorkerResources
from claims_tasks.sharding import shard_for
from db import production
from db.production import ChunkWrite


def outcomes(res: WorkerResources, home: psycopg.Connection, claim_ids: Sequence[str]) -> dict[str, str]:
    """production.existing_outcomes over every shard (claims) and home (open failures)."""
    if not res.sharded:
        return production.existing_outcomes(home, claim_ids)
    found: dict[str, str] = {}
    with every_shard(res, home) as conns:
        for conn in conns:
            found.update(production.claims_held(conn, claim_ids))
    for cid in production.open_failures(home, claim_ids):
        found.setdefault(cid, "failed")
    return found


@contextmanager
def every_shard(res: WorkerResources, home: psycopg.Connection) -> Iterator[list[psycopg.Connection]]:
    """A connection to each claims shard (the home connection where home is one)."""
    with ExitStack() as stack:
        yield [home if pool is res.production else stack.enter_context(pool.connection()) for pool in _pools(res)]


def _pools(res: WorkerResources) -> list[ConnectionPool]:
    return res.claim_shards or [res.production]


def shard_of(res: WorkerResources, facility_id: str | None) -> int:
    return shard_for(facility_id, len(_pools(res)))


@contextmanager
def shard_connection(res: WorkerResources, home: psycopg.Connection, shard: int) -> Iterator[psycopg.Connection]:
    pool = _pools(res)[shard]
    if pool is res.production:
        yield home
    else:
        with pool.connection() as conn:
            yield conn


def write_claims(
    res: WorkerResources, home: psycopg.Connection, write: ChunkWrite
) -> tuple[list[str], list[str], dict[str, str]]:
    """pipeline.write_or_split for a write's claims (with lines and diagnoses), each in its facility's
    shard, and its failed claims in home. Returns (claims written, failed written, {refused id: reason})."""
    from claims_tasks.pipeline import write_or_split

    if not res.sharded:
        return write_or_split(home, write)
    shard_by_claim = {row[0]: shard_of(res, row[1]) for row in write.claims}
    parts: dict[int, ChunkWrite] = defaultdict(lambda: ChunkWrite([], [], [], []))
    for row in write.claims:
        parts[shard_by_claim[row[0]]].claims.append(row)
    for row in write.lines:
        parts[shard_by_claim[row[0]]].lines.append(row)
    for row in write.diagnoses:
        parts[shard_by_claim[row[0]]].diagnoses.append(row)
    done: list[str] = []
    refused: dict[str, str] = {}
    for shard, part in sorted(parts.items()):
        with shard_connection(res, home, shard) as conn:
            ok, _, bad = write_or_split(conn, part)
            if conn is not home:
                conn.commit()
        done += ok
        refused |= bad
    _, failed, bad = write_or_split(home, ChunkWrite([], [], [], write.failed))
    return done, failed, refused | bad


def pool_holding(res: WorkerResources, claim_id: str) -> ConnectionPool | None:
    """The pool of the database whose production claims include this one (None: not in production)."""
    for pool in _pools(res):
        with pool.connection() as conn:
            if conn.execute("SELECT 1 FROM claims WHERE claim_id = %s", (claim_id,)).fetchone():
                return pool
    return None


def remove(res: WorkerResources, home: psycopg.Connection, batch_id: str, written: Mapping[str, str]) -> int:
    """Compensation: production.remove_outcomes, claims from their shards and failures from home."""
    if not res.sharded:
        return production.remove_outcomes(home, batch_id, written)
    claims = {cid: s for cid, s in written.items() if s != "failed"}
    removed = 0
    with every_shard(res, home) as conns:
        for conn in conns:
            removed += production.remove_outcomes(conn, batch_id, claims)
            if conn is not home:
                conn.commit()
    return removed + production.remove_outcomes(home, batch_id, {c: s for c, s in written.items() if s == "failed"})
