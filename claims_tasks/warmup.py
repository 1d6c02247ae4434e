"""A pool process gets ready before its first chunk: pools opened to their configured minimum, reference
data loaded, the RVU cache warmed with the codes billed most. In a background thread, because Celery kills
a pool process whose worker_process_init handlers take longer than a few seconds; a chunk that arrives
first simply waits on the same locks (or loads what the warm-up has not)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from claims_tasks.metrics import MetricsBatch
from claims_tasks.resources import WorkerResources
from db.rvu import warm_rvu_codes

logger = logging.getLogger(__name__)

POOL_WAIT_SECONDS = 30.0


def warm(res: WorkerResources) -> dict[str, float]:
    """Everything a chunk would otherwise load first; returns seconds per step."""
    spent: dict[str, float] = {}
    t0 = time.perf_counter()
    res.staging.wait(POOL_WAIT_SECONDS)
    res.production.wait(POOL_WAIT_SECONDS)
    spent["pools"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res.reference()
    spent["reference"] = time.perf_counter() - t0
    if res.rvu is not None:
        t0 = time.perf_counter()
        with res.staging.connection() as conn:
            codes = warm_rvu_codes(conn)
        res.rvu.warm(codes)
        res.rvu.drain_counts()  # the warm-up's own lookups are not the chunks'
        spent["rvu"] = time.perf_counter() - t0
    return spent


def start(resources: Callable[[], WorkerResources]) -> threading.Thread:
    def run() -> None:
        figures, res = MetricsBatch(), None
        try:
            res = resources()
            spent = warm(res)
            logger.info("pool process warm: %s", {k: round(v, 3) for k, v in spent.items()})
            figures.inc("pool_process_warmups", result="ok")
            for step, seconds in spent.items():
                figures.inc("pool_process_warmup_seconds", seconds, step=step)
        except Exception as exc:  # the first chunk loads whatever is missing, and reports it if it fails
            logger.warning("pool process warm-up incomplete: %s: %s", type(exc).__name__, exc)
            figures.inc("pool_process_warmups", result="incomplete")
        if res is not None:  # how a deployment (and the benchmark) knows the fleet is warm
            figures.flush(res.metrics_redis)

    thread = threading.Thread(target=run, name="claims-warm-up", daemon=True)
    thread.start()
    return thread
