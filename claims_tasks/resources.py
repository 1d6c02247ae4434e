"""What a worker process holds between chunks: connection pools, the cipher, cached reference data.

Built lazily in the process that runs tasks (a prefork child), never at import time and never in the
parent: a connection inherited across fork is shared by two processes and breaks both.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import redis
from cryptography.fernet import MultiFernet
from psycopg_pool import ConnectionPool

from claims_tasks.config import Settings
from claims_tasks.crypto import make_cipher
from db.staging import Reference, load_reference_sets

REFERENCE_TTL_SECONDS = 300.0


@dataclass
class WorkerResources:
    staging: ConnectionPool
    production: ConnectionPool
    cipher: MultiFernet
    timely_filing_days: int
    metrics_redis: redis.Redis
    _reference: Reference | None = None
    _reference_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reference(self) -> Reference:
        """Reference sets, read through and refreshed every few minutes, never per claim."""
        with self._lock:
            if self._reference is None or time.monotonic() - self._reference_at > REFERENCE_TTL_SECONDS:
                with self.staging.connection() as conn:
                    self._reference = load_reference_sets(conn)
                self._reference_at = time.monotonic()
            return self._reference

    def today(self) -> date:
        return datetime.now(UTC).date()

    def close(self) -> None:
        self.staging.close()
        self.production.close()
        self.metrics_redis.close()


def build_resources(settings: Settings) -> WorkerResources:
    cipher = make_cipher(settings.encryption_keys())

    def pool(dsn: str, name: str) -> ConnectionPool:
        return ConnectionPool(
            dsn,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            name=name,
            timeout=15.0,
            kwargs={"connect_timeout": 5, "application_name": f"claims_tasks.{name}"},
            open=True,
        )

    return WorkerResources(
        staging=pool(settings.staging_dsn, "staging"),
        production=pool(settings.production_dsn, "production"),
        cipher=cipher,
        timely_filing_days=settings.timely_filing_days,
        metrics_redis=redis.Redis.from_url(settings.broker_url, socket_timeout=5, socket_connect_timeout=5),
    )
