"""RVU prices, read through three tiers: this process's memory, a Redis hash shared by the fleet, staging.

A worker prices every valid claim's lines (expected reimbursement). Prices live in staging.rvu_values; a
process keeps the ones it has used, and the fleet shares them in Redis so that a new process (or one that
just saw the table change) asks PostgreSQL only for what no process has read yet. Everything is keyed by
the table's version, which a trigger bumps on every change (migration s0006): the worker's reference check
(claims_tasks/resources.py) calls refresh(), and a new version empties memory and moves to a new Redis
hash, so a price is never served after the table changed (within the check interval). Lookups are counted
by tier for the metrics (rvu_cache_lookups{result=memory|redis|database}).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from decimal import Decimal

import psycopg
import redis

from db.rvu import rvu_codes, rvu_prices, rvu_version

logger = logging.getLogger(__name__)

REDIS_PREFIX = "claims_tasks:rvu:"
REDIS_TTL_SECONDS = 86_400  # an old version's hash goes away by itself

Connect = Callable[[], AbstractContextManager[psycopg.Connection]]


class RvuCache:
    def __init__(self, client: redis.Redis, connect: Connect) -> None:
        self.client = client
        self.connect = connect
        self.version = -1
        self.codes: frozenset[str] = frozenset()
        self._prices: dict[str, Decimal] = {}
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def key(self) -> str:
        return f"{REDIS_PREFIX}{self.version}"

    def refresh(self, conn: psycopg.Connection) -> bool:
        """Adopt the table's current version; True when it moved (memory is emptied, codes reread)."""
        version = rvu_version(conn)
        if version == self.version:
            return False
        codes = rvu_codes(conn)
        with self._lock:
            self.version, self.codes, self._prices = version, codes, {}
        return True

    def prices(self, codes: Iterable[str | None]) -> dict[str, Decimal]:
        """Price per unit of each of these codes the RVU table has (others are not priced)."""
        wanted = {c for c in codes if c in self.codes}
        with self._lock:
            found = {c: self._prices[c] for c in wanted if c in self._prices}
            self.counts["memory"] += len(found)
        missing = sorted(wanted - found.keys())
        if not missing:
            return found
        key = self.key
        from_redis = self._from_redis(key, missing)
        missing = [c for c in missing if c not in from_redis]
        from_db: dict[str, Decimal] = {}
        if missing:
            with self.connect() as conn:
                from_db = rvu_prices(conn, missing)
            self._to_redis(key, from_db)
        with self._lock:
            if key == self.key:  # not replaced by a refresh meanwhile
                self._prices.update(from_redis)
                self._prices.update(from_db)
            self.counts["redis"] += len(from_redis)
            self.counts["database"] += len(missing)
        return {**found, **from_redis, **from_db}

    def _from_redis(self, key: str, codes: list[str]) -> dict[str, Decimal]:
        try:
            values = self.client.hmget(key, codes)
        except redis.RedisError as exc:  # the database still answers
            logger.warning("RVU cache: Redis unavailable (%s)", exc)
            return {}
        return {c: Decimal(v.decode()) for c, v in zip(codes, values, strict=True) if v is not None}

    def _to_redis(self, key: str, prices: Mapping[str, Decimal]) -> None:
        if not prices:
            return
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.hset(key, mapping={c: str(p) for c, p in prices.items()})
                pipe.expire(key, REDIS_TTL_SECONDS)
                pipe.execute()
        except redis.RedisError as exc:
            logger.warning("RVU cache: prices not shared (%s)", exc)

    def warm(self, codes: Iterable[str]) -> int:
        return len(self.prices(codes))

    def drain_counts(self) -> dict[str, int]:
        with self._lock:
            counts, self.counts = {k: n for k, n in self.counts.items() if n}, Counter()
        return counts

    def view(self) -> RvuPrices:
        return RvuPrices(self)


class RvuPrices(Mapping[str, Decimal]):
    """The RVU table as a Mapping (code -> price per unit) over the cache: what Reference.rvu_per_unit
    holds in a worker, so rules (known codes) and pricing read through it unchanged."""

    def __init__(self, cache: RvuCache) -> None:
        self._cache = cache
        self._codes = cache.codes

    def __getitem__(self, code: str) -> Decimal:
        price = self.get(code)
        if price is None:
            raise KeyError(code)
        return price

    def get(self, code: str, default: Decimal | None = None) -> Decimal | None:  # type: ignore[override]
        cache = self._cache
        price = cache._prices.get(code)  # the common case, without sets and locks
        if price is not None:
            cache.counts["memory"] += 1
            return price
        return cache.prices([code]).get(code, default)

    def many(self, codes: Iterable[str | None]) -> dict[str, Decimal]:
        return self._cache.prices(codes)

    def __contains__(self, code: object) -> bool:
        return code in self._codes

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)
