"""The fleet as the broker sees it: queue depths, unacknowledged chunks, and which workers answer.

Workers are found by a broadcast (`inspect().active_queues()`), which waits its whole timeout for replies
because it cannot know how many workers there are. So the census is bounded (CENSUS_TIMEOUT) and cached
(CENSUS_TTL): /status and /health never wait longer than one census, and at most one runs at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from celery import Celery

logger = logging.getLogger(__name__)

CENSUS_TIMEOUT = 1.0
CENSUS_TTL = 5.0
# kombu's Redis transport keeps delivered, unacknowledged messages in this hash (key `unacked`).
UNACKED_KEY = "unacked"


@dataclass(frozen=True)
class Worker:
    name: str
    queues: list[str]


@dataclass(frozen=True)
class Census:
    workers: list[Worker]
    checked_at: datetime | None
    error: str | None = None


class WorkerCensus:
    def __init__(self, app: Celery, timeout: float = CENSUS_TIMEOUT, ttl: float = CENSUS_TTL) -> None:
        self.app = app
        self.timeout = timeout
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cached: Census | None = None
        self._cached_at = 0.0

    def census(self) -> Census:
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached_at < self.ttl:
                return self._cached
            self._cached = self._take()
            self._cached_at = time.monotonic()
            return self._cached

    def _take(self) -> Census:
        try:
            replies = self.app.control.inspect(timeout=self.timeout).active_queues() or {}
        except Exception as exc:  # the broker being down must not fail /status: it says so instead
            logger.warning("worker census failed: %s", exc)
            return Census([], None, f"{type(exc).__name__}: {exc}")
        workers = [
            Worker(name, sorted(str(q.get("name", "")) for q in (queues or [])))
            for name, queues in sorted(replies.items())
        ]
        return Census(workers, datetime.now(UTC))


def queue_names(app: Celery) -> list[str]:
    """The queues the workers consume, as configured (shards, dispatch, and retry/dead-letter if any)."""
    return [q.name for q in (app.conf.task_queues or ()) if q.name]


def unacked(client: redis.Redis) -> int:
    return int(client.hlen(UNACKED_KEY))
