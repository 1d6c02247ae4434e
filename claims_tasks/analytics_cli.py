"""`claims-tasks analytics ...`: revenue at risk, failure patterns, trends, throughput per shard, refresh.

The same queries as the API's /analytics routes (db/analytics.py), over the materialized views beat
refreshes; `as of` says when they were last refreshed (`claims-tasks analytics refresh` does it now).
"""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import click

from claims_tasks.config import get_settings

CATEGORIES = ("validation", "coding", "eligibility", "duplicate", "data_quality", "system")


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _emit(doc: Any, as_json: bool, lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(_plain(doc)))
    else:
        for line in lines:
            click.echo(line)


def _connection() -> Any:
    from db import engines

    return engines.connection(get_settings().production_dsn, "production", autocommit=True)


@click.group()
def analytics() -> None:
    """Revenue at risk, failure patterns, trends and throughput, from the analytics views."""


@analytics.command("refresh")
def refresh_cmd() -> None:
    """Refresh every analytics view now (concurrently: readers are not blocked)."""
    from db import analytics as queries

    with _connection() as conn:
        took = queries.refresh(conn)
    if took is None:
        click.echo("another refresh is running; nothing done")
        return
    for view, seconds in took.items():
        click.echo(f"{view}: refreshed in {seconds:.3f}s")


@analytics.command("revenue-at-risk")
@click.option("--facility", "facility_id", default=None, help="Only this facility.")
@click.option("--top", type=click.IntRange(1, 500), default=10, show_default=True, help="Facilities listed.")
@click.option("--json", "as_json", is_flag=True)
def revenue_at_risk_cmd(facility_id: str | None, top: int, as_json: bool) -> None:
    """RVU-based revenue of open failures, by category, status and facility."""
    from db import analytics as queries

    with _connection() as conn:
        found = queries.revenue_at_risk(conn, facility_id=facility_id, top=top)
    lines = [
        f"open failures {found.failures:,}, potential revenue ${found.potential_revenue:,.2f} (as of {found.as_of})"
    ]
    for title, rows in (("category", found.by_category), ("status", found.by_status), ("facility", found.by_facility)):
        lines.append(f"by {title}:")
        lines += [f"  {a.key or '(none)':<14} {a.failures:>8,}  ${a.potential_revenue:>14,.2f}" for a in rows]
    _emit(found, as_json, lines)


@analytics.command("failure-patterns")
@click.option("--by", "order_by", type=click.Choice(["count", "revenue"]), default="count", show_default=True)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--open", "open_only", is_flag=True, help="Only open failures.")
@click.option("--category", type=click.Choice(CATEGORIES), default=None)
@click.option("--facility", "facility_id", default=None)
@click.option("--json", "as_json", is_flag=True)
def failure_patterns_cmd(order_by: str, limit: int, open_only: bool, category: str | None, facility_id: str | None,
                         as_json: bool) -> None:  # fmt: skip
    """Rule codes ranked by failure count or by potential revenue."""
    from db import analytics as queries

    with _connection() as conn:
        patterns, when = queries.failure_patterns(
            conn, order_by=order_by, limit=limit, open_only=open_only, category=category, facility_id=facility_id
        )
    lines = [f"{'category':<13} {'rule':<28} {'failures':>9} {'revenue':>15} facilities (as of {when})"]
    lines += [
        f"{p.failure_category:<13} {p.rule_code:<28} {p.failures:>9,} {p.potential_revenue:>15,.2f} {p.facilities}"
        for p in patterns
    ]
    _emit({"patterns": patterns, "as_of": when}, as_json, lines)


@analytics.command("trends")
@click.option("--days", type=click.IntRange(1, 366), default=30, show_default=True)
@click.option("--window", type=click.IntRange(1, 90), default=7, show_default=True, help="Moving-average days.")
@click.option("--facility", "facility_id", default=None, help="Only this facility.")
@click.option("--per-facility", is_flag=True, help="One series per facility instead of all together.")
@click.option("--json", "as_json", is_flag=True)
def trends_cmd(days: int, window: int, facility_id: str | None, per_facility: bool, as_json: bool) -> None:
    """Processed and failed claims per day, with moving averages."""
    from db import analytics as queries

    with _connection() as conn:
        points, when = queries.trends(
            conn, today=datetime.now(UTC).date(), days=days, window=window, facility_id=facility_id,
            per_facility=per_facility,
        )  # fmt: skip
    lines = [
        f"{'day':<10} {'facility':<9} {'processed':>9} {'failed':>7} {'avg proc':>9} {'avg fail':>9} (as of {when})"
    ]
    lines += [
        f"{p.day} {p.facility_id:<9} {p.processed:>9,} {p.failed:>7,} {p.processed_avg:>9.1f} {p.failed_avg:>9.1f}"
        for p in points
    ]
    _emit({"points": points, "window": window, "as_of": when}, as_json, lines)


@analytics.command("throughput")
@click.option("--hours", type=click.IntRange(1, 720), default=24, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def throughput_cmd(hours: int, as_json: bool) -> None:
    """Outcomes per shard per hour (the shard of each facility under the current CLAIMS_SHARDS)."""
    from db import analytics as queries

    settings = get_settings()
    with _connection() as conn:
        found = queries.throughput(conn, now=datetime.now(UTC), hours=hours, shards=settings.shards)
    lines = [f"{'hour (UTC)':<17} {'shard':>5} {'processed':>9} {'failed':>7} {'per s':>7} (as of {found.as_of})"]
    lines += [
        f"{p.hour:%Y-%m-%d %H:00} {p.shard:>5} {p.processed:>9,} {p.failed:>7,} {p.per_second:>7.2f}"
        for p in found.hours
    ]
    doc = {"hours": [{**_plain(p), "per_second": p.per_second} for p in found.hours],
           "totals": found.totals, "as_of": found.as_of}  # fmt: skip
    _emit(doc, as_json, lines)
