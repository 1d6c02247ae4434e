"""What a chunk adds to the fleet's metrics besides its own counts: the statements its connections ran
(db/query_tracker.py: calls and time per statement, slow ones to the slow-query log), the RVU cache's
lookups by tier, the reference cache's hits and misses per table, and the process's connection pools
(claims_tasks/pool_stats.py: size, in use, waiting)."""

from __future__ import annotations

from claims_tasks import pool_stats
from claims_tasks.metrics import MetricsBatch
from claims_tasks.resources import WorkerResources
from db import query_tracker


def record(res: WorkerResources, metrics: MetricsBatch) -> None:
    """Add to the chunk's metrics (flushed by the caller) and refresh this process's pool snapshot."""
    query_tracker.flush(res.metrics_redis, metrics)
    if res.rvu is not None:
        for tier, n in res.rvu.drain_counts().items():
            metrics.inc("rvu_cache_lookups", n, result=tier)
    if res.references is not None:
        for (table, result), n in res.references.drain_counts().items():
            metrics.inc("reference_cache_lookups", n, table=table, result=result)
    pool_stats.record(
        res.metrics_redis, pool_stats.process_name(), {"staging": res.staging, "production": res.production}
    )
