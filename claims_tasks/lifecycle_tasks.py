"""Beat's data-lifecycle tasks (issue 9), thin like the others: refresh the analytics views, keep the
yearly partitions of production claims ready ahead of the year."""

from __future__ import annotations

from datetime import date
from typing import Any

from celery.utils.log import get_task_logger

from claims_tasks.celery_app import app
from claims_tasks.config import get_settings
from db import analytics, engines, partitions

logger = get_task_logger(__name__)


@app.task(name="claims_tasks.refresh_analytics", ignore_result=True)
def refresh_analytics() -> dict[str, float] | None:
    """REFRESH ... CONCURRENTLY every analytics view; skipped while another refresh runs."""
    with engines.connection(get_settings().production_dsn, "production", autocommit=True) as conn:
        took = analytics.refresh(conn)
    logger.info("analytics refresh %s", took if took is not None else "skipped: another one is running")
    return took


@app.task(name="claims_tasks.ensure_partitions", ignore_result=True)
def ensure_partitions() -> list[dict[str, Any]]:
    """Last, this and next year's partitions exist (created empty ahead of time: nothing to move)."""
    with engines.connection(get_settings().production_dsn, "production") as conn:
        results = partitions.ensure_current(conn, date.today())
    made = [r for r in results if r.action != "exists"]
    if made:
        logger.info("partitions %s", [(r.year, r.action) for r in made])
    return [{"year": r.year, "action": r.action} for r in results]
