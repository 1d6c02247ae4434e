"""Analytics (db/analytics.py, `claims-tasks analytics`, /analytics/...): the figures agree with the rows they
summarise, after a concurrent refresh of the materialized views."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from claims_tasks.config import Settings
from claims_tasks.sharding import shard_for
from db import analytics
from tests.lifecycle.conftest import Processed


def _refresh(settings: Settings) -> dict[str, float]:
    with psycopg.connect(settings.production_dsn, autocommit=True) as conn:
        took = analytics.refresh(conn)
    assert took is not None
    return took


def test_revenue_at_risk_is_the_open_failures_revenue(
    clean: Settings, production: psycopg.Connection, processed: Processed
) -> None:
    _refresh(clean)
    with psycopg.connect(clean.production_dsn, autocommit=True) as conn:
        found = analytics.revenue_at_risk(conn, top=3)
    open_rows = production.execute(
        "SELECT count(*), sum(potential_revenue) FROM failed_claims WHERE status IN ('new','retrying','review')"
    ).fetchone()
    assert open_rows is not None and open_rows[0] == processed.failed > 0
    assert (found.failures, found.potential_revenue) == (open_rows[0], open_rows[1])
    assert sum(a.failures for a in found.by_status) == found.failures
    assert len(found.by_facility) <= 3
    assert [a.potential_revenue for a in found.by_category] == sorted(
        (a.potential_revenue for a in found.by_category), reverse=True
    )
    assert found.as_of is not None and datetime.now(UTC) - found.as_of < timedelta(minutes=1)


def test_failure_patterns_rank_by_count_and_by_revenue(
    clean: Settings, production: psycopg.Connection, processed: Processed
) -> None:
    _refresh(clean)
    expected = {
        code: (int(n), Decimal(rev))
        for code, n, rev in production.execute(
            "SELECT code, count(*), sum(potential_revenue) FROM failed_claims, unnest(rule_codes) code GROUP BY 1"
        )
    }
    with psycopg.connect(clean.production_dsn, autocommit=True) as conn:
        by_count, _ = analytics.failure_patterns(conn, order_by="count", limit=500)
        by_revenue, _ = analytics.failure_patterns(conn, order_by="revenue", limit=3)
    assert {p.rule_code: (p.failures, p.potential_revenue) for p in by_count} == expected
    assert [p.failures for p in by_count] == sorted((p.failures for p in by_count), reverse=True)
    assert [p.rule_code for p in by_revenue] == [
        code for code, _ in sorted(expected.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))[:3]
    ]


def test_trends_fill_quiet_days_and_average_over_the_window(
    clean: Settings, production: psycopg.Connection, processed: Processed
) -> None:
    # Spread the processed claims over three days: today, two days ago, five days ago.
    today = datetime.now(UTC).date()
    ids = [r[0] for r in production.execute("SELECT claim_id FROM claims ORDER BY claim_id")]
    thirds = [ids[0::3], ids[1::3], ids[2::3]]
    for back, part in zip((0, 2, 5), thirds, strict=True):
        production.execute(
            "UPDATE claims SET processed_at = now() - make_interval(days => %s) WHERE claim_id = ANY(%s)", (back, part)
        )
    production.execute("UPDATE failed_claims SET created_at = now()")
    _refresh(clean)
    with psycopg.connect(clean.production_dsn, autocommit=True) as conn:
        points, _ = analytics.trends(conn, today=today, days=4, window=3)
    by_day = {p.day: p for p in points}

    assert sorted(by_day) == [today - timedelta(days=d) for d in (3, 2, 1, 0)]
    assert by_day[today].processed == len(thirds[0]) and by_day[today].failed == processed.failed
    assert by_day[today - timedelta(days=1)].processed == 0
    # Window of 3 ending two days ago: days -4, -3, -2 → only day -2 has claims.
    assert by_day[today - timedelta(days=2)].processed_avg == round(len(thirds[1]) / 3, 2)
    # Window ending three days ago reaches day -5, before the range shown.
    assert by_day[today - timedelta(days=3)].processed_avg == round(len(thirds[2]) / 3, 2)
    assert by_day[today].failure_rate == round(processed.failed / (len(thirds[0]) + processed.failed), 4)


def test_throughput_per_shard(clean: Settings, production: psycopg.Connection, processed: Processed) -> None:
    _refresh(clean)
    expected: dict[int, int] = {}
    for facility, n in production.execute(
        "SELECT facility_id, count(*) FROM (SELECT facility_id FROM claims UNION ALL"
        " SELECT coalesce(facility_id, '') FROM failed_claims) x GROUP BY 1"
    ):
        shard = shard_for(facility or None, clean.shards)
        expected[shard] = expected.get(shard, 0) + n
    with psycopg.connect(clean.production_dsn, autocommit=True) as conn:
        found = analytics.throughput(conn, now=datetime.now(UTC), hours=2, shards=clean.shards)
    assert found.totals == expected
    assert all(p.hour.tzinfo is not None and p.hour.minute == 0 for p in found.hours)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["revenue-at-risk"], "open failures"),
        (["failure-patterns", "--by", "revenue", "--limit", "3"], "category"),
        (["trends", "--days", "3"], "avg proc"),
        (["throughput", "--hours", "2"], "shard"),
    ],
)
def test_analytics_commands(clean: Settings, processed: Processed, args: list[str], needle: str) -> None:
    cli = [sys.executable, "-m", "claims_tasks.cli", "analytics"]
    assert subprocess.run([*cli, "refresh"], capture_output=True, timeout=60).returncode == 0
    text = subprocess.run([*cli, *args], capture_output=True, text=True, timeout=60)
    as_json = subprocess.run([*cli, *args, "--json"], capture_output=True, text=True, timeout=60)
    assert text.returncode == 0 and as_json.returncode == 0, text.stderr + as_json.stderr
    assert needle in text.stdout
    doc = json.loads(as_json.stdout)
    assert doc["as_of"]


def test_a_refresh_while_another_runs_is_skipped(clean: Settings) -> None:
    with psycopg.connect(clean.production_dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (analytics.REFRESH_LOCK,))
        with psycopg.connect(clean.production_dsn, autocommit=True) as conn:
            assert analytics.refresh(conn) is None
