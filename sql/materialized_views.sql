-- Analytics over the production database (smart_pro_claims): four materialized views, created by the
-- Alembic revision p0006 and refreshed CONCURRENTLY by beat (claims_tasks.refresh_analytics, every
-- CLAIMS_ANALYTICS_REFRESH_INTERVAL seconds) or by `claims-tasks analytics refresh`. Read by db/analytics.py
-- for the API (/analytics/...) and `claims-tasks analytics ...`.
--
-- A concurrent refresh needs a unique index over plain columns on each view, so nullable keys are
-- coalesced to '' here. Days and hours are UTC, whatever the refreshing session's TimeZone.
-- To change a view: a new Alembic revision that drops and re-creates it (and edit this file to match).

-- Open failures (the claim is still worth money if repaired): count and RVU-based potential revenue
-- (failed_claims.potential_revenue) by category, facility and status.
CREATE MATERIALIZED VIEW IF NOT EXISTS analytics_revenue_at_risk AS
SELECT failure_category,
       coalesce(facility_id, '') AS facility_id,
       status,
       count(*)::bigint AS failures,
       coalesce(sum(potential_revenue), 0)::numeric(16, 2) AS potential_revenue
FROM failed_claims
WHERE status IN ('new', 'retrying', 'review')
GROUP BY 1, 2, 3;
CREATE UNIQUE INDEX IF NOT EXISTS ux_analytics_revenue_at_risk
    ON analytics_revenue_at_risk (failure_category, facility_id, status);

-- Failures by rule code (a failure with two codes counts under each), open or closed.
CREATE MATERIALIZED VIEW IF NOT EXISTS analytics_failure_patterns AS
SELECT f.failure_category,
       code AS rule_code,
       coalesce(f.facility_id, '') AS facility_id,
       f.status IN ('new', 'retrying', 'review') AS is_open,
       count(*)::bigint AS failures,
       coalesce(sum(f.potential_revenue), 0)::numeric(16, 2) AS potential_revenue
FROM failed_claims f
CROSS JOIN LATERAL unnest(f.rule_codes) AS code
GROUP BY 1, 2, 3, 4;
CREATE UNIQUE INDEX IF NOT EXISTS ux_analytics_failure_patterns
    ON analytics_failure_patterns (failure_category, rule_code, facility_id, is_open);

-- Outcomes per UTC day and facility: claims written to production (by processed_at) and failures
-- recorded (by created_at).
CREATE MATERIALIZED VIEW IF NOT EXISTS analytics_daily AS
WITH written AS (
    SELECT (processed_at AT TIME ZONE 'UTC')::date AS day, facility_id,
           count(*)::bigint AS processed,
           count(*) FILTER (WHERE routed_to_review)::bigint AS review,
           sum(total_charge)::numeric(16, 2) AS charges,
           coalesce(sum(expected_reimbursement), 0)::numeric(16, 2) AS expected_reimbursement
    FROM claims
    GROUP BY 1, 2
), failed AS (
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, coalesce(facility_id, '') AS facility_id,
           count(*)::bigint AS failed,
           coalesce(sum(potential_revenue), 0)::numeric(16, 2) AS failed_revenue
    FROM failed_claims
    GROUP BY 1, 2
)
SELECT coalesce(w.day, f.day) AS day,
       coalesce(w.facility_id, f.facility_id) AS facility_id,
       coalesce(w.processed, 0) AS processed,
       coalesce(w.review, 0) AS review,
       coalesce(f.failed, 0) AS failed,
       coalesce(w.charges, 0) AS charges,
       coalesce(w.expected_reimbursement, 0) AS expected_reimbursement,
       coalesce(f.failed_revenue, 0) AS failed_revenue
FROM written w
FULL JOIN failed f ON f.day = w.day AND f.facility_id = w.facility_id;
CREATE UNIQUE INDEX IF NOT EXISTS ux_analytics_daily ON analytics_daily (day, facility_id);

-- Outcomes per UTC hour and facility, for throughput; the shard of a facility is computed by the reader
-- (claims_tasks.sharding.shard_for), since it depends on CLAIMS_SHARDS.
CREATE MATERIALIZED VIEW IF NOT EXISTS analytics_hourly AS
SELECT hour, facility_id, sum(processed)::bigint AS processed, sum(failed)::bigint AS failed
FROM (
    SELECT date_trunc('hour', processed_at AT TIME ZONE 'UTC') AS hour, facility_id,
           count(*) AS processed, 0 AS failed
    FROM claims
    GROUP BY 1, 2
    UNION ALL
    SELECT date_trunc('hour', created_at AT TIME ZONE 'UTC'), coalesce(facility_id, ''), 0, count(*)
    FROM failed_claims
    GROUP BY 1, 2
) outcomes
GROUP BY 1, 2;
CREATE UNIQUE INDEX IF NOT EXISTS ux_analytics_hourly ON analytics_hourly (hour, facility_id);
