"""Which shard a facility belongs to, and the queue names that follow from it.

Python's hash() is salted per process, so two dispatchers would disagree; a CRC of the UTF-8 bytes is
stable across processes, machines and Python versions.
"""

from __future__ import annotations

import zlib

SHARD_QUEUE_PREFIX = "claims.shard."
DISPATCH_QUEUE = "claims.dispatch"
# Failed claims a repair may fix, served by priority (high-value first).
RETRY_QUEUE = "claims.retry"
# Chunks given up on; a worker records each in staging.dead_letters.
DEAD_LETTER_QUEUE = "claims.dead_letter"


def stable_hash(key: str) -> int:
    return zlib.crc32(key.encode("utf-8"))


def shard_for(facility_id: str | None, shards: int) -> int:
    """Claims without a facility still need a home: they go to shard 0 and fail validation there."""
    return stable_hash(facility_id or "") % shards


def shard_queue(shard: int) -> str:
    return f"{SHARD_QUEUE_PREFIX}{shard}"


def shard_queues(shards: int) -> list[str]:
    return [shard_queue(i) for i in range(shards)]
