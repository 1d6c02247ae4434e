"""What a worker process holds between chunks: connection pools, the cipher, cached reference data.

Built lazily in the process that runs tasks (a prefork child), never at import time and never in the
parent: a connection inherited across fork is shared by two processes and breaks both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import redis
from cryptography.fernet import MultiFernet
from psycopg_pool import ConnectionPool

from claims_tasks.config import Settings
from claims_tasks.crypto import make_cipher
from db.edit_reference import reference_version
from db.staging import Reference, load_reference_sets

if TYPE_CHECKING:
    from ml.serving import Scorer

REFERENCE_TTL_SECONDS = 300.0
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
    _reference_loaded_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # The filter model: the one the worker loaded and checked before forking its pool (tasks._load_model),
    # else loaded on first use. A model that cannot be loaded fails the chunk; no claim goes unscored.
    _scorer: Scorer | None = None
    _load_scorer: Callable[[], Scorer] | None = None

    def scorer(self) -> Scorer:
        with self._lock:
            if self._scorer is None:
                if self._load_scorer is None:
                    raise RuntimeError("these resources were built without a model")
                self._scorer = self._load_scorer()
            return self._scorer

    def reference(self) -> Reference:
        """Reference data, read through and never per claim: reloaded when staging.reference_versions has
        moved (one cheap query, at most every REFERENCE_CHECK_SECONDS) or after REFERENCE_TTL_SECONDS, a
        backstop for hand edits made without bump_version."""
        with self._lock:
            now, held = time.monotonic(), self._reference
            if held is None or now - self._reference_at >= REFERENCE_CHECK_SECONDS:
                with self.staging.connection() as conn:
                    expired = held is None or now - self._reference_loaded_at > REFERENCE_TTL_SECONDS
                    if expired or reference_version(conn) != held.version:
                        self._reference, self._reference_loaded_at = load_reference_sets(conn), now
                self._reference_at = now
            return self._reference  # type: ignore[return-value]  # set above when it was None

    def today(self) -> date:
        return datetime.now(UTC).date()

    def close(self) -> None:
        self.staging.close()
        self.production.close()
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
            kwargs={"connect_timeout": 5, "application_name": f"claims_tasks.{name}"},
            open=True,
        )

    return WorkerResources(
        staging=pool(settings.staging_dsn, "staging"),
        production=pool(settings.production_dsn, "production"),
        cipher=cipher,
        timely_filing_days=settings.timely_filing_days,
        metrics_redis=redis.Redis.from_url(settings.broker_url, socket_timeout=5, socket_connect_timeout=5),
        _scorer=scorer,
        _load_scorer=lambda: _load_served(settings),
    )


def _load_served(settings: Settings) -> Scorer:
    from claims_tasks.scoring import load_served

    return load_served(settings)
