"""What a worker process holds between chunks: connection pools, the cipher, cached reference data.

Built lazily in the process that runs tasks (a prefork child), never at import time and never in the
parent: a connection inherited across fork is shared by two processes and breaks both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import redis
from cryptography.fernet import MultiFernet
from psycopg_pool import ConnectionPool

from claims_tasks.config import Settings
from claims_tasks.crypto import make_cipher
from claims_tasks.reference_cache import ReferenceCache, odbc_fetch, postgres_fetch
from claims_tasks.rvu_cache import RvuCache
from claims_tasks.sharding import shard_for
from db.edit_reference import reference_version
from db.query_tracker import TrackedCursor
from db.staging import Reference, load_reference_sets
from db.writers.dsn import is_odbc

if TYPE_CHECKING:
    from db.writers.odbc import OdbcWriter
    from ml.serving import Scorer

REFERENCE_CHECK_SECONDS = 2.0  # how stale a worker's reference data may be after load_reference


@dataclass
class WorkerResources:
    staging: ConnectionPool
    production: ConnectionPool
    cipher: MultiFernet
    timely_filing_days: int
    metrics_redis: redis.Redis
    _reference: Reference | None = None
    _reference_at: float = 0.0  # last version check
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # The filter model: the one the worker loaded and checked before forking its pool (tasks._load_model),
    # else loaded on first use. A model that cannot be loaded fails the chunk; no claim goes unscored.
    _scorer: Scorer | None = None
    _load_scorer: Callable[[], Scorer] | None = None
    # RVU prices read through memory, Redis and staging (claims_tasks/rvu_cache.py); when set, the
    # reference data's rvu_per_unit is a view over it, refreshed with the RVU table's own version.
    rvu: RvuCache | None = None
    # Where production claims live, by facility shard (CLAIMS_PRODUCTION_SHARDS); [production] when not
    # sharded. `production` stays the home of failed claims, review and everything else.
    claim_shards: list[ConnectionPool] = field(default_factory=list)
    # Set when CLAIMS_PRODUCTION_DSN is an ODBC target (SQL Server): chunks write through it
    # (claims_tasks/odbc_path.py) and `production` is its stand-in (db/writers/odbc.py OdbcProductionPool).
    odbc: OdbcWriter | None = None
    # Production's facilities, payers and financial classes, read through per chunk's ids
    # (claims_tasks/reference_cache.py): what the reference rules check. Emptied when the version moves.
    references: ReferenceCache | None = None

    @property
    def sharded(self) -> bool:
        return any(pool is not self.production for pool in self.claim_shards)

    def claims_pool(self, facility_id: str | None) -> ConnectionPool:
        """The pool of the database holding this facility's production claims."""
        if not self.sharded:
            return self.production
        return self.claim_shards[shard_for(facility_id, len(self.claim_shards))]

    def scorer(self) -> Scorer:
        with self._lock:
            if self._scorer is None:
                if self._load_scorer is None:
                    raise RuntimeError("these resources were built without a model")
                self._scorer = self._load_scorer()
            return self._scorer

    def reference(self) -> Reference:
        """Reference data, read through and never per claim: reloaded when staging.reference_versions has
        moved (one cheap query, at most every REFERENCE_CHECK_SECONDS), which triggers on the reference
        tables bump on any change (migration s0008), and only then: a reload holds two copies for a moment."""
        with self._lock:
            now, held = time.monotonic(), self._reference
            if held is None or now - self._reference_at >= REFERENCE_CHECK_SECONDS:
                with self.staging.connection() as conn:
                    if held is None or reference_version(conn) != held.version:
                        self._reference = load_reference_sets(conn)
                    if self.rvu is not None and (self.rvu.refresh(conn) or self._reference is not held):
                        self._reference = replace(self._reference, rvu_per_unit=self.rvu.view())  # type: ignore[arg-type]
                    if self.references is not None:
                        self.references.refresh(self._reference.version)  # type: ignore[union-attr]
                self._reference_at = now
            return self._reference  # type: ignore[return-value]  # set above when it was None

    def today(self) -> date:
        return datetime.now(UTC).date()

    def close(self) -> None:
        self.staging.close()
        self.production.close()
        for pool in self.claim_shards:
            if pool is not self.production:
                pool.close()
        self.metrics_redis.close()


def build_resources(settings: Settings, scorer: Scorer | None = None) -> WorkerResources:
    cipher = make_cipher(settings.encryption_keys())

    def pool(dsn: str, name: str) -> ConnectionPool:
        return ConnectionPool(
            dsn,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            name=name,
            timeout=settings.pool_timeout,
            # A connection the server dropped (restart, outage) is replaced on checkout, not handed out.
            check=ConnectionPool.check_connection,
            # TrackedCursor: every statement's time goes to db.query_tracker (metrics, slow-query log).
            kwargs={
                "connect_timeout": 5,
                "application_name": f"claims_tasks.{name}",
                "cursor_factory": TrackedCursor,
                # Timestamps read in UTC whatever the server's zone: a year-1 or year-9999 received_at
                # shifted by a local offset falls outside Python's range (db/bounds.py). No JIT: a chunk's
                # statements take milliseconds, and a plan costed high (production without statistics)
                # compiled for 120-155 ms per statement (docs/PERFORMANCE.md).
                "options": "-c TimeZone=UTC -c jit=off",
            },
            open=True,
        )

    metrics_redis = redis.Redis.from_url(settings.broker_url, socket_timeout=5, socket_connect_timeout=5)
    staging = pool(settings.staging_dsn, "staging")
    if is_odbc(settings.production_dsn):
        from db.writers.odbc import OdbcProductionPool, OdbcWriter

        writer = OdbcWriter(settings.production_dsn, pool_size=settings.odbc_pool_size, timeout=settings.pool_timeout)
        home = OdbcProductionPool(writer)
        return WorkerResources(
            staging=staging, production=home, claim_shards=[home], cipher=cipher,  # type: ignore[arg-type]
            timely_filing_days=settings.timely_filing_days, metrics_redis=metrics_redis, _scorer=scorer,
            _load_scorer=lambda: _load_served(settings), rvu=RvuCache(metrics_redis, staging.connection),
            odbc=writer, references=ReferenceCache(odbc_fetch(writer), settings.reference_cache_ttl),
        )  # fmt: skip
    production = pool(settings.production_dsn, "production")
    shards = [
        production if dsn == settings.production_dsn else pool(dsn, f"production.{i}")
        for i, dsn in enumerate(settings.production_shard_dsns())
    ]
    return WorkerResources(
        staging=staging,
        production=production,
        claim_shards=shards,
        cipher=cipher,
        timely_filing_days=settings.timely_filing_days,
        metrics_redis=metrics_redis,
        _scorer=scorer,
        _load_scorer=lambda: _load_served(settings),
        rvu=RvuCache(metrics_redis, staging.connection),
        references=ReferenceCache(postgres_fetch(production), settings.reference_cache_ttl),
    )


def _load_served(settings: Settings) -> Scorer:
    from claims_tasks.scoring import load_served

    return load_served(settings)
