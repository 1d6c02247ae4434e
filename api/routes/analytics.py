"""Analytics: revenue at risk, failure patterns, trends, throughput per shard (db/analytics.py, the same
queries as `claims-tasks analytics`). Aggregates only — no patient data — so any key may read them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.analytics_schemas import (
    AmountOut,
    FailurePattern,
    FailurePatterns,
    OrderBy,
    RevenueAtRisk,
    ShardHour,
    ShardTotal,
    Throughput,
    TrendPoint,
    Trends,
)
from api.deps import ApiKeyDep, ResourcesDep
from api.schemas import AUTHENTICATED, ID_PATTERN, Category, error_responses
from db import analytics

router = APIRouter(prefix="/analytics", tags=["analytics"], responses=error_responses(*AUTHENTICATED))

FacilityQuery = Annotated[str | None, Query(pattern=ID_PATTERN, description="Only this facility.")]


def _amounts(rows: list[analytics.Amount]) -> list[AmountOut]:
    return [AmountOut(key=a.key, failures=a.failures, potential_revenue=str(a.potential_revenue)) for a in rows]


@router.get("/revenue_at_risk", response_model=RevenueAtRisk)
def revenue_at_risk(
    _: ApiKeyDep,
    res: ResourcesDep,
    facility_id: FacilityQuery = None,
    top: Annotated[int, Query(ge=1, le=500, description="Facilities listed.")] = 10,
) -> RevenueAtRisk:
    """RVU-based revenue of open failures (failed_claims.potential_revenue), by category, status, facility."""
    with res.telemetry.timed("analytics_revenue_at_risk"), res.production.connection() as conn:
        found = analytics.revenue_at_risk(conn, facility_id=facility_id, top=top)
    return RevenueAtRisk(
        failures=found.failures,
        potential_revenue=str(found.potential_revenue),
        by_category=_amounts(found.by_category),
        by_status=_amounts(found.by_status),
        by_facility=_amounts(found.by_facility),
        as_of=found.as_of,
    )


@router.get("/failure_patterns", response_model=FailurePatterns)
def failure_patterns(
    _: ApiKeyDep,
    res: ResourcesDep,
    order_by: OrderBy = "count",
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    open_only: bool = False,
    category: Category | None = None,
    facility_id: FacilityQuery = None,
) -> FailurePatterns:
    """Rule codes ranked by how many failures carry them, or by the revenue those failures hold."""
    with res.telemetry.timed("analytics_failure_patterns"), res.production.connection() as conn:
        found, as_of = analytics.failure_patterns(
            conn, order_by=order_by, limit=limit, open_only=open_only, category=category, facility_id=facility_id
        )
    items = [
        FailurePattern(failure_category=p.failure_category, rule_code=p.rule_code, failures=p.failures,
                       potential_revenue=str(p.potential_revenue), facilities=p.facilities)
        for p in found
    ]  # fmt: skip
    return FailurePatterns(items=items, order_by=order_by, as_of=as_of)


@router.get("/trends", response_model=Trends)
def trends(
    _: ApiKeyDep,
    res: ResourcesDep,
    days: Annotated[int, Query(ge=1, le=366, description="Days back, today (UTC) included.")] = 30,
    window: Annotated[int, Query(ge=1, le=90, description="Moving-average window in days.")] = 7,
    facility_id: FacilityQuery = None,
    per_facility: Annotated[bool, Query(description="One series per facility instead of all together.")] = False,
) -> Trends:
    """Processed and failed claims per day, with moving averages (days without outcomes count as zero)."""
    with res.telemetry.timed("analytics_trends"), res.production.connection() as conn:
        points, as_of = analytics.trends(
            conn, today=datetime.now(UTC).date(), days=days, window=window, facility_id=facility_id,
            per_facility=per_facility,
        )  # fmt: skip
    out = [
        TrendPoint(day=p.day, facility_id=p.facility_id, processed=p.processed, failed=p.failed,
                   failure_rate=p.failure_rate, processed_avg=p.processed_avg, failed_avg=p.failed_avg,
                   expected_reimbursement=str(p.expected_reimbursement), failed_revenue=str(p.failed_revenue))
        for p in points
    ]  # fmt: skip
    return Trends(points=out, days=days, window=window, as_of=as_of)


@router.get("/throughput", response_model=Throughput)
def throughput(
    _: ApiKeyDep,
    res: ResourcesDep,
    hours: Annotated[int, Query(ge=1, le=720, description="Hours back, the current one included.")] = 24,
) -> Throughput:
    """Outcomes (claims written plus failures) per shard per UTC hour."""
    shards = res.settings.shards
    with res.telemetry.timed("analytics_throughput"), res.production.connection() as conn:
        found = analytics.throughput(conn, now=datetime.now(UTC), hours=hours, shards=shards)
    return Throughput(
        hours=[ShardHour(hour=p.hour, shard=p.shard, processed=p.processed, failed=p.failed, per_second=p.per_second)
               for p in found.hours],
        totals=[ShardTotal(shard=s, outcomes=n) for s, n in sorted(found.totals.items())],
        shards=shards,
        as_of=found.as_of,
    )  # fmt: skip
