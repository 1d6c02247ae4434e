"""Broker checks and queue depths, straight from Redis (what Flower and the API show too)."""

from __future__ import annotations

from urllib.parse import urlsplit

import redis

from claims_tasks.errors import ServiceUnavailable

# kombu's Redis transport keeps one list per priority step: "<queue>" for step 0, "<queue>:<step>" after.
PRIORITY_STEPS = (0, 3, 6, 9)
PRIORITY_SEP = ":"


def restore_interval(visibility_timeout: int) -> int:
    """Seconds between a worker's looks for unacknowledged messages whose visibility timeout has run out.

    kombu 5.7 looks only every unacked_restore_interval (10 s) x unacked_restore_throttle (10) = ~100 s,
    so the chunks of a killed worker came back up to 100 s after their timeout, whatever the timeout.
    Looking every sixth of the timeout (one ZRANGE, at most once a minute) bounds that delay to ~1/6 of it.
    """
    return max(1, min(60, visibility_timeout // 6))


def describe(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or '/0'}"


def check_broker(url: str) -> None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise ServiceUnavailable(f"broker (Redis) at {describe(url)} is unreachable: {exc}") from None
    except redis.exceptions.ResponseError as exc:
        raise ServiceUnavailable(f"broker (Redis) at {describe(url)} refused the connection: {exc}") from None


def priority_lists(queue: str) -> list[str]:
    return [queue if step == 0 else f"{queue}{PRIORITY_SEP}{step}" for step in PRIORITY_STEPS]


def queue_depths(url: str, queues: list[str]) -> dict[str, int]:
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    with client.pipeline(transaction=False) as pipe:
        for queue in queues:
            for key in priority_lists(queue):
                pipe.llen(key)
        sizes = pipe.execute()
    steps = len(PRIORITY_STEPS)
    return {q: int(sum(sizes[i * steps : (i + 1) * steps])) for i, q in enumerate(queues)}
