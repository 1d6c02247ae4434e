"""Batches: their progress, one or a page of them, from the counters beside the staging ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import ApiKeyDep, ResourcesDep
from api.errors import ApiError
from api.schemas import AUTHENTICATED, ID_PATTERN, BatchPage, BatchState, BatchStatus, error_responses
from db import queries

router = APIRouter(tags=["batches"], responses=error_responses(*AUTHENTICATED))

MAX_PAGE = 1_000_000


@router.get("/batch_status/{batch_id}", response_model=BatchStatus, responses=error_responses(404))
async def batch_status(
    batch_id: Annotated[str, Path(pattern=ID_PATTERN, description="A batch id, as dispatch printed it.")],
    _: ApiKeyDep,
    res: ResourcesDep,
) -> BatchStatus:
    """Progress of one batch: counts per state, percent, rate, ETA, start and finish."""
    with res.telemetry.timed("batch_status"):
        async with res.staging_async.connection() as conn:
            progress = await queries.batch_progress(conn, batch_id)
    if progress is None:
        raise ApiError(404, "not_found", f"no batch {batch_id!r}")
    return BatchStatus.from_progress(progress, datetime.now(UTC))


@router.get("/batches", response_model=BatchPage)
def list_batches(
    _: ApiKeyDep,
    res: ResourcesDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 20,
    status: BatchState | None = None,
) -> BatchPage:
    """Batches, newest first, a page at a time."""
    with res.telemetry.timed("list_batches"), res.staging.connection() as conn:
        found = queries.list_batches(conn, page=page, page_size=page_size, status=status)
    now = datetime.now(UTC)
    return BatchPage(
        items=[BatchStatus.from_progress(p, now) for p in found.items],
        page=page,
        page_size=page_size,
        total=found.total,
    )
