"""Analytics over production, read from the materialized views of sql/materialized_views.sql (refreshed
concurrently by beat), shared by the API (/analytics/...) and the CLI (`claims-tasks analytics ...`).

Money is RVU-based: a failed claim's potential_revenue is what it would have been reimbursed (work + PE + MP
RVU × conversion factor × units, computed when it failed); expected_reimbursement likewise for written ones.
Every answer carries `as_of`, when the oldest view it read was last refreshed.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
from psycopg import sql

from claims_tasks.sharding import shard_for

VIEWS = ("analytics_revenue_at_risk", "analytics_failure_patterns", "analytics_daily", "analytics_hourly")
# pg_try_advisory_lock key: one refresh at a time across the fleet (two beats, or beat and an operator).
REFRESH_LOCK = 0x0C1A_1109
ALL_FACILITIES = "*"


def refresh(conn: psycopg.Connection) -> dict[str, float] | None:
    """REFRESH MATERIALIZED VIEW CONCURRENTLY each view (readers are never blocked); seconds per view, or
    None when another refresh holds the lock. `conn` must be in autocommit mode."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (REFRESH_LOCK,)).fetchone()
    if not (row and row[0]):
        return None
    took: dict[str, float] = {}
    try:
        for view in VIEWS:
            started = time.perf_counter()
            conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW CONCURRENTLY {}").format(sql.Identifier(view)))
            took[view] = round(time.perf_counter() - started, 3)
            conn.execute(
                "INSERT INTO analytics_refreshes (view_name, refreshed_at, seconds) VALUES (%s, now(), %s)"
                " ON CONFLICT (view_name) DO UPDATE"
                " SET refreshed_at = EXCLUDED.refreshed_at, seconds = EXCLUDED.seconds",
                (view, took[view]),
            )
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (REFRESH_LOCK,))
    return took


def as_of(conn: psycopg.Connection, *views: str) -> datetime | None:
    row = conn.execute(
        "SELECT min(refreshed_at) FROM analytics_refreshes WHERE view_name = ANY(%s)", (list(views),)
    ).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class Amount:
    key: str
    failures: int
    potential_revenue: Decimal


@dataclass(frozen=True)
class RevenueAtRisk:
    failures: int
    potential_revenue: Decimal
    by_category: list[Amount]
    by_status: list[Amount]
    by_facility: list[Amount]
    as_of: datetime | None


def revenue_at_risk(conn: psycopg.Connection, *, facility_id: str | None = None, top: int = 10) -> RevenueAtRisk:
    """Open failures (new, retrying, review): the money repair and review could still recover."""
    where, params = ("WHERE facility_id = %s", [facility_id]) if facility_id else ("", [])

    def grouped(column: str, limit: int | None = None) -> list[Amount]:
        rows = conn.execute(
            f"SELECT {column}, sum(failures)::bigint, sum(potential_revenue) FROM analytics_revenue_at_risk {where}"  # nosec B608 # column and ORDER BY come from fixed choices in this function; values bound
            f" GROUP BY 1 ORDER BY 3 DESC, 2 DESC, 1" + (" LIMIT %s" if limit else ""),
            [*params, *([limit] if limit else [])],
        ).fetchall()
        return [Amount(key, int(n), Decimal(revenue)) for key, n, revenue in rows]

    by_category = grouped("failure_category")
    return RevenueAtRisk(
        failures=sum(a.failures for a in by_category),
        potential_revenue=sum((a.potential_revenue for a in by_category), Decimal("0.00")),
        by_category=by_category,
        by_status=grouped("status"),
        by_facility=grouped("facility_id", top),
        as_of=as_of(conn, "analytics_revenue_at_risk"),
    )


@dataclass(frozen=True)
class Pattern:
    failure_category: str
    rule_code: str
    failures: int
    potential_revenue: Decimal
    facilities: int


def failure_patterns(
    conn: psycopg.Connection,
    *,
    order_by: str = "count",
    limit: int = 20,
    open_only: bool = False,
    category: str | None = None,
    facility_id: str | None = None,
) -> tuple[list[Pattern], datetime | None]:
    """Rule codes ranked by how many failures carry them (`count`) or by their potential revenue (`revenue`)."""
    if order_by not in ("count", "revenue"):
        raise ValueError(f"order_by must be count or revenue, not {order_by!r}")
    filters, params = ["true"], []
    if open_only:
        filters.append("is_open")
    if category:
        filters.append("failure_category = %s")
        params.append(category)
    if facility_id:
        filters.append("facility_id = %s")
        params.append(facility_id)
    order = "2 DESC, 3 DESC" if order_by == "count" else "3 DESC, 2 DESC"
    rows = conn.execute(
        f"""
        SELECT failure_category || '|' || rule_code, sum(failures)::bigint, sum(potential_revenue),
               count(DISTINCT facility_id) FILTER (WHERE facility_id <> '')
        FROM analytics_failure_patterns WHERE {" AND ".join(filters)}
        GROUP BY failure_category, rule_code ORDER BY {order}, 1 LIMIT %s
        """,  # nosec B608 # filters and ORDER BY are fixed fragments of this function; values bound
        [*params, limit],
    ).fetchall()
    patterns = [
        Pattern(*key.split("|", 1), int(n), Decimal(revenue), int(facilities))  # type: ignore[call-arg]
        for key, n, revenue, facilities in rows
    ]
    return patterns, as_of(conn, "analytics_failure_patterns")


@dataclass(frozen=True)
class TrendPoint:
    day: date
    facility_id: str
    processed: int
    failed: int
    failure_rate: float | None
    processed_avg: float
    failed_avg: float
    expected_reimbursement: Decimal
    failed_revenue: Decimal


def trends(
    conn: psycopg.Connection,
    *,
    today: date,
    days: int = 30,
    window: int = 7,
    facility_id: str | None = None,
    per_facility: bool = False,
) -> tuple[list[TrendPoint], datetime | None]:
    """Outcomes per UTC day over the last `days` days (today included), each with its `window`-day moving
    average (days without outcomes count as zero). All facilities together unless `facility_id` or
    `per_facility`."""
    start = today - timedelta(days=days - 1)
    series = "facility_id" if (facility_id or per_facility) else sql.Literal(ALL_FACILITIES).as_string(conn)
    query = f"""
    WITH daily AS (
        SELECT day, {series} AS facility_id, sum(processed) AS processed, sum(failed) AS failed,
               sum(expected_reimbursement) AS expected_reimbursement, sum(failed_revenue) AS failed_revenue
        FROM analytics_daily
        WHERE day BETWEEN %(first)s AND %(last)s AND (%(facility)s::text IS NULL OR facility_id = %(facility)s)
        GROUP BY 1, 2
    ), grid AS (
        SELECT d::date AS day, f.facility_id
        FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') d
        CROSS JOIN (SELECT DISTINCT facility_id FROM daily) f
    ), filled AS (
        SELECT g.day, g.facility_id, coalesce(d.processed, 0) AS processed, coalesce(d.failed, 0) AS failed,
               coalesce(d.expected_reimbursement, 0) AS expected_reimbursement,
               coalesce(d.failed_revenue, 0) AS failed_revenue
        FROM grid g LEFT JOIN daily d USING (day, facility_id)
    )
    SELECT day, facility_id, processed, failed, expected_reimbursement, failed_revenue,
           avg(processed) OVER w, avg(failed) OVER w
    FROM filled
    WINDOW w AS (PARTITION BY facility_id ORDER BY day ROWS BETWEEN {int(window) - 1} PRECEDING AND CURRENT ROW)
    ORDER BY facility_id, day
    """  # nosec B608 # series and filters are fixed fragments of this function; values bound
    rows = conn.execute(
        query, {"first": start - timedelta(days=window - 1), "last": today, "facility": facility_id}
    ).fetchall()
    points = [
        TrendPoint(
            day=day,
            facility_id=fac,
            processed=int(p),
            failed=int(f),
            failure_rate=round(int(f) / (int(p) + int(f)), 4) if int(p) + int(f) else None,
            processed_avg=round(float(pa), 2),
            failed_avg=round(float(fa), 2),
            expected_reimbursement=Decimal(er),
            failed_revenue=Decimal(fr),
        )
        for day, fac, p, f, er, fr, pa, fa in rows
        if day >= start
    ]
    return points, as_of(conn, "analytics_daily")


@dataclass(frozen=True)
class ShardHour:
    hour: datetime
    shard: int
    processed: int
    failed: int

    @property
    def per_second(self) -> float:
        return round((self.processed + self.failed) / 3600, 3)


@dataclass
class Throughput:
    hours: list[ShardHour]
    totals: dict[int, int] = field(default_factory=dict)
    as_of: datetime | None = None


def throughput(conn: psycopg.Connection, *, now: datetime, hours: int, shards: int) -> Throughput:
    """Outcomes per shard per UTC hour over the last `hours` hours; hours without outcomes are left out. The
    shard of each facility is today's (crc32(facility_id) % shards), as dispatch routes it."""
    since = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    rows = conn.execute(
        "SELECT hour, facility_id, processed, failed FROM analytics_hourly WHERE hour >= %s", (since,)
    ).fetchall()
    per: dict[tuple[datetime, int], list[int]] = defaultdict(lambda: [0, 0])
    for hour, facility, processed, failed in rows:
        slot = per[(hour, shard_for(facility or None, shards))]
        slot[0] += int(processed)
        slot[1] += int(failed)
    result = Throughput(
        hours=[ShardHour(h.replace(tzinfo=UTC), s, p, f) for (h, s), (p, f) in sorted(per.items())],
        as_of=as_of(conn, "analytics_hourly"),
    )
    for point in result.hours:
        result.totals[point.shard] = result.totals.get(point.shard, 0) + point.processed + point.failed
    return result
