"""GET /metrics in Prometheus text format (any valid key; Prometheus sends it with `http_headers`)."""

from __future__ import annotations

import redis
from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from api.deps import ApiKeyDep, ResourcesDep
from api.errors import ApiError
from api.schemas import AUTHENTICATED, error_responses

router = APIRouter(tags=["metrics"], responses=error_responses(*AUTHENTICATED))


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                     "description": "Prometheus text exposition format."}},
)  # fmt: skip
def metrics(_: ApiKeyDep, res: ResourcesDep) -> Response:
    """Fleet counters recorded by workers (claims per shard/outcome/category, chunk durations, retries),
    pool statistics per process, and gauges taken now: queue depths, unacked chunks, failed-claim
    backlog, dead letters; plus this API process's request and query timings."""
    try:
        body = res.telemetry.exposition()
    except redis.RedisError as exc:
        raise ApiError(503, "unavailable", f"metrics store (Redis) unavailable: {exc}") from None
    return Response(body, media_type=CONTENT_TYPE_LATEST)
