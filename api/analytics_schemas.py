"""Response models of the /analytics routes (api/routes/analytics.py). Money is a decimal string, as
everywhere in this API; `as_of` is when the materialized views answering were last refreshed."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

OrderBy = Literal["count", "revenue"]

AS_OF = "When the analytics views behind this answer were last refreshed (beat does it every few minutes)."


class AmountOut(BaseModel):
    key: str = Field(description="The category, status or facility id ('' for failures without a facility).")
    failures: int
    potential_revenue: str = Field(description="RVU-based reimbursement the failures would bring, decimal.")


class RevenueAtRisk(BaseModel):
    failures: int = Field(description="Open failures: new, retrying or in review.")
    potential_revenue: str
    by_category: list[AmountOut]
    by_status: list[AmountOut]
    by_facility: list[AmountOut] = Field(description="The facilities with the most revenue at risk, first.")
    as_of: datetime | None = Field(description=AS_OF)


class FailurePattern(BaseModel):
    failure_category: str
    rule_code: str
    failures: int = Field(description="Failures carrying this rule code (a failure with two codes counts twice).")
    potential_revenue: str
    facilities: int = Field(description="Facilities where it happens.")


class FailurePatterns(BaseModel):
    items: list[FailurePattern]
    order_by: OrderBy
    as_of: datetime | None = Field(description=AS_OF)


class TrendPoint(BaseModel):
    day: date = Field(description="UTC day.")
    facility_id: str = Field(description="'*' for all facilities together.")
    processed: int = Field(description="Claims written to production that day.")
    failed: int = Field(description="Failures recorded that day.")
    failure_rate: float | None = Field(description="failed / (processed + failed); null on a day with neither.")
    processed_avg: float = Field(description="Moving average of processed over the window ending that day.")
    failed_avg: float
    expected_reimbursement: str
    failed_revenue: str


class Trends(BaseModel):
    points: list[TrendPoint]
    days: int
    window: int
    as_of: datetime | None = Field(description=AS_OF)


class ShardHour(BaseModel):
    hour: datetime = Field(description="Start of the UTC hour.")
    shard: int
    processed: int
    failed: int
    per_second: float = Field(description="Outcomes per second over the hour.")


class ShardTotal(BaseModel):
    shard: int
    outcomes: int


class Throughput(BaseModel):
    hours: list[ShardHour] = Field(description="Hours with outcomes, oldest first; quiet hours are left out.")
    totals: list[ShardTotal]
    shards: int = Field(description="CLAIMS_SHARDS: a facility's shard is crc32(facility_id) % shards.")
    as_of: datetime | None = Field(description=AS_OF)
