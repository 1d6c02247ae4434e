"""Yearly partitions of production claims (partitioned by RANGE (service_from) since p0006).

A year's partition is `claims_y<year>`, for [year-01-01, year+1-01-01). Claims of a year without one land
in `claims_default`. `ensure_year` creates and attaches a year's partition; when the default partition
already holds claims of that year they move in the same transaction, so every reader sees each claim
exactly once throughout — in the default partition before the commit, in the year's after:

1. a new table shaped like claims; the year's rows moved into it (DELETE ... RETURNING into INSERT): row
   locks only, so other years' writes and every read go on;
2. its primary key and indexes built there (nobody else can see the table yet);
3. ATTACH PARTITION: SHARE UPDATE EXCLUSIVE on claims (reads and writes go on) and ACCESS EXCLUSIVE on
   the default partition for a scan of what remains in it (PostgreSQL must prove none of it belongs to the
   new year) — the one moment that waits for, and holds up, queries touching the default partition. It
   is short once the default partition is small; lock_timeout bounds the wait, and the move is retried.

Statements on a partition do not fire the statement triggers of claims (registry, change capture): a
moved claim keeps its claim_ids row and is not reported as a change, because it did not change.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

from db.models import is_claims_partition

logger = logging.getLogger(__name__)

DEFAULT_PARTITION = "claims_default"
FIRST_YEAR, LAST_YEAR = 1900, 2999
# Indexes each partition carries (the parent's, which ATTACH links rather than rebuilds).
PARTITION_INDEXES = (("batch_id",), ("facility_id", "service_from"), ("subscriber_id", "date_of_birth"))


@dataclass(frozen=True)
class PartitionInfo:
    name: str
    bound: str
    rows: int


@dataclass(frozen=True)
class PartitionResult:
    year: int
    action: str  # exists | created | moved | skipped
    rows_moved: int = 0
    seconds: float = 0.0
    attempts: int = 0


def partition_name(year: int) -> str:
    return f"claims_y{year}"


def year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year + 1, 1, 1)


def parse_years(spec: str) -> list[int]:
    """'2024', '2019-2021,2025' -> sorted distinct years; ValueError naming the bad part."""
    years: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        match = re.fullmatch(r"(\d{4})(?:-(\d{4}))?", part)
        if not match:
            raise ValueError(f"{part!r} is not a year (YYYY) or a range of years (YYYY-YYYY)")
        first, last = int(match[1]), int(match[2] or match[1])
        if last < first:
            raise ValueError(f"{part!r}: the range ends before it starts")
        if first < FIRST_YEAR or last > LAST_YEAR:
            raise ValueError(f"{part!r}: years must be within {FIRST_YEAR}-{LAST_YEAR}")
        years.update(range(first, last + 1))
    return sorted(years)


def list_partitions(conn: psycopg.Connection) -> list[PartitionInfo]:
    """claims' partitions with their bounds and row counts (estimates from the planner's statistics)."""
    rows = conn.execute(
        """
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), greatest(c.reltuples, 0)::bigint
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'claims'::regclass
        ORDER BY c.relname
        """
    ).fetchall()
    return [PartitionInfo(name, bound, int(n)) for name, bound, n in rows]


def is_partitioned(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT relkind FROM pg_class WHERE oid = 'claims'::regclass").fetchone()
    return bool(row and row[0] == "p")


def attached(conn: psycopg.Connection, name: str) -> bool:
    return any(p.name == name for p in list_partitions(conn))


def default_rows(conn: psycopg.Connection, year: int) -> int:
    lo, hi = year_bounds(year)
    row = conn.execute(
        f"SELECT count(*) FROM {DEFAULT_PARTITION} WHERE service_from >= %s AND service_from < %s",  # nosec B608 # the partition name is this module's constant
        (lo, hi),
    ).fetchone()
    return int(row[0]) if row else 0


def ensure_year(
    conn: psycopg.Connection, year: int, *, move: bool = True, lock_timeout_s: float = 5.0, attempts: int = 5
) -> PartitionResult:
    """Create and attach `claims_y<year>`, moving the year's claims out of the default partition when `move`
    (otherwise a year that has some there is skipped). Idempotent. `conn` must not be in a transaction."""
    name = partition_name(year)
    if not is_claims_partition(name):
        raise ValueError(f"{year} gives no valid partition name")
    if attached(conn, name):
        conn.rollback()
        return PartitionResult(year, "exists")
    waiting = default_rows(conn, year)
    conn.rollback()
    if waiting and not move:
        return PartitionResult(year, "skipped", rows_moved=0)
    started = time.perf_counter()
    for attempt in range(1, attempts + 1):
        try:
            moved = _create_and_attach(conn, year, lock_timeout_s)
        except (psycopg.errors.LockNotAvailable, psycopg.errors.CheckViolation) as exc:
            # The default partition was busy (lock_timeout), or a claim of this year arrived in it while we
            # moved the others (the attach's check finds it): nothing happened; try again, from scratch.
            conn.rollback()
            if attempt == attempts:
                raise
            logger.warning("partition %s: attempt %d failed (%s); retrying", name, attempt, type(exc).__name__)
            time.sleep(min(2.0**attempt * 0.1, 5.0))
            continue
        seconds = time.perf_counter() - started
        return PartitionResult(year, "moved" if moved else "created", moved, round(seconds, 3), attempt)
    raise AssertionError("unreachable")


def _create_and_attach(conn: psycopg.Connection, year: int, lock_timeout_s: float) -> int:
    name = sql.Identifier(partition_name(year))
    lo, hi = year_bounds(year)
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{int(lock_timeout_s * 1000)}ms")))
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE claims INCLUDING DEFAULTS INCLUDING CONSTRAINTS)").format(name))
        moved = conn.execute(
            sql.SQL(
                "WITH moved AS (DELETE FROM {default} WHERE service_from >= %s AND service_from < %s RETURNING *)"
                " INSERT INTO {name} SELECT * FROM moved"
            ).format(default=sql.Identifier(DEFAULT_PARTITION), name=name),
            (lo, hi),
        ).rowcount
        # Built on the filled table (faster than row by row), before the attach takes its locks.
        conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (claim_id, service_from)").format(name))
        for columns in PARTITION_INDEXES:
            conn.execute(
                sql.SQL("CREATE INDEX ON {} ({})").format(name, sql.SQL(", ").join(map(sql.Identifier, columns)))
            )
        # A CHECK equal to the bound spares the attach a scan of the new partition; redundant afterwards.
        check = sql.Identifier(f"{partition_name(year)}_bound")
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (service_from >= {} AND service_from < {})").format(
                name, check, sql.Literal(lo), sql.Literal(hi)
            )
        )
        conn.execute(
            sql.SQL("ALTER TABLE claims ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                name, sql.Literal(lo), sql.Literal(hi)
            )
        )
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(name, check))
    return max(moved, 0)


def ensure_years(
    conn: psycopg.Connection, years: list[int], *, move: bool = True, lock_timeout_s: float = 5.0
) -> list[PartitionResult]:
    return [ensure_year(conn, y, move=move, lock_timeout_s=lock_timeout_s) for y in years]


def ensure_current(conn: psycopg.Connection, today: date) -> list[PartitionResult]:
    """Last year, this year and next (what init and beat keep ready), never moving rows: a year that already
    has claims in the default partition is left for `claims-tasks partition --years`."""
    return ensure_years(conn, [today.year - 1, today.year, today.year + 1], move=False)
