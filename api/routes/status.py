"""The fleet at a glance: queue depths, workers that answer, work in flight, the last dispatch."""

from __future__ import annotations

import redis
from fastapi import APIRouter

from api import fleet
from api.deps import ApiKeyDep, ResourcesDep
from api.errors import ApiError
from api.schemas import AUTHENTICATED, FleetStatus, InFlight, LastDispatch, QueueDepth, WorkerInfo, error_responses
from claims_tasks.broker import describe, queue_depths
from db import queries

router = APIRouter(tags=["status"], responses=error_responses(*AUTHENTICATED))


@router.get("/status", response_model=FleetStatus)
def status(_: ApiKeyDep, res: ResourcesDep) -> FleetStatus:
    """Queue depth per queue (all priority lists), workers seen by the last census (at most a few seconds
    old), claims and chunks in flight, and the last dispatch."""
    celery_app = res.census.app
    try:
        depths = queue_depths(res.settings.broker_url, fleet.queue_names(celery_app))
        chunks_unacked = fleet.unacked(res.redis)
    except redis.RedisError as exc:
        raise ApiError(
            503, "unavailable", f"broker (Redis) at {describe(res.settings.broker_url)} is unreachable: {exc}"
        ) from None
    with res.telemetry.timed("in_flight"), res.staging.connection() as conn:
        work = queries.in_flight(conn)
    census = res.census.census()
    last = (
        LastDispatch(batch_id=work.last_batch_id, at=work.last_dispatch_at)
        if work.last_batch_id and work.last_dispatch_at
        else None
    )
    return FleetStatus(
        queues=[QueueDepth(name=name, depth=n) for name, n in depths.items()],
        workers=[WorkerInfo(name=w.name, queues=w.queues) for w in census.workers],
        workers_checked_at=census.checked_at,
        in_flight=InFlight(batches=work.batches, claims=work.claims, chunks_unacked=chunks_unacked),
        last_dispatch=last,
    )
