"""Which queues a worker consumes, from CLAIMS_WORKER_QUEUES when `-Q` is not given (issue 9).

So one image and one command serve every worker: `docker compose up --scale worker=N` (all queues) or a
Kubernetes Deployment per group of shards, each told its shards by the environment ("0,1" or
"2,3,claims.retry"). An empty or unset value means every declared queue, as without -Q.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from celery.signals import celeryd_after_setup

from claims_tasks.errors import ConfigError
from claims_tasks.sharding import shard_queue

logger = logging.getLogger(__name__)


def resolve(spec: str | None, shards: int, declared: Sequence[str]) -> list[str]:
    """'0,1,claims.retry' -> ['claims.shard.0', 'claims.shard.1', 'claims.retry']; [] means all."""
    if not spec or not spec.strip():
        return []
    chosen: list[str] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        if item.isdigit():
            if int(item) >= shards:
                raise ConfigError(f"CLAIMS_WORKER_QUEUES: shard {item} does not exist (CLAIMS_SHARDS={shards})")
            name = shard_queue(int(item))
        elif item in declared:
            name = item
        else:
            raise ConfigError(
                f"CLAIMS_WORKER_QUEUES: {item!r} is neither a shard number nor a queue ({', '.join(declared)})"
            )
        if name not in chosen:
            chosen.append(name)
    return chosen


@celeryd_after_setup.connect
def _select_queues(sender: str, instance: Any, **_: Any) -> None:
    from claims_tasks.config import get_settings

    queues = instance.app.amqp.queues
    if queues._consume_from is not None:  # -Q on the command line: it wins
        return
    settings = get_settings()
    declared = [q.name for q in instance.app.conf.task_queues or ()]
    try:
        chosen = resolve(settings.worker_queues, settings.shards, declared)
    except ConfigError as exc:
        raise SystemExit(f"claims_tasks worker: {exc}") from None
    if chosen:
        queues.select(chosen)
        logger.info("worker %s consumes %s (CLAIMS_WORKER_QUEUES)", sender, ", ".join(chosen))
