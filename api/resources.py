"""What the API process holds for its lifetime: connection pools, a Redis client, the cipher, the worker
census and the metrics registry. Built in the app's lifespan, from Settings given by the entry point.

Two kinds of pools per database: async ones for what every request or poll pays (the key lookup,
/batch_status), which then run on the event loop with no thread hop; sync ones for the rest, which share
their queries with the CLI (db/) and run in FastAPI's thread pool. The review actions run the failures
workflow (claims_tasks.failures, claims_tasks.amend) with the same resources a worker uses, built on first
use.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import redis
from cryptography.fernet import MultiFernet
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from api.fleet import WorkerCensus
from api.telemetry import Telemetry
from claims_tasks.config import Settings
from claims_tasks.crypto import make_cipher
from claims_tasks.errors import ConfigError
from claims_tasks.resources import WorkerResources, build_resources

# A request waits at most this long for a database connection before it is answered 503.
POOL_TIMEOUT = 5.0


@dataclass
class ApiResources:
    settings: Settings
    staging: ConnectionPool
    production: ConnectionPool
    staging_async: AsyncConnectionPool
    production_async: AsyncConnectionPool
    redis: redis.Redis
    # None when no encryption key is configured: the API serves everything but decrypted claims.
    cipher: MultiFernet | None
    census: WorkerCensus
    telemetry: Telemetry
    _workflow: WorkerResources | None = None
    _workflow_lock: threading.Lock = field(default_factory=threading.Lock)

    def workflow(self) -> WorkerResources:
        """Resources for the review actions: what claims_tasks.failures and claims_tasks.amend expect."""
        with self._workflow_lock:
            if self._workflow is None:
                self._workflow = build_resources(self.settings)
            return self._workflow

    async def open(self) -> None:
        await self.staging_async.open()
        await self.production_async.open()

    async def close(self) -> None:
        await self.staging_async.close()
        await self.production_async.close()
        self.staging.close()
        self.production.close()
        self.redis.close()
        if self._workflow is not None:
            self._workflow.close()


def _pool_args(settings: Settings, dsn: str, name: str) -> dict[str, Any]:
    # Autocommit: reads see the latest committed counters and never sit idle in a transaction; the few
    # writes (audit rows) are single statements.
    return {
        "conninfo": dsn,
        "min_size": settings.pool_min_size,
        "max_size": settings.pool_max_size,
        "name": f"api.{name}",
        "timeout": POOL_TIMEOUT,
        "kwargs": {"connect_timeout": 5, "autocommit": True, "application_name": f"claims_tasks.api.{name}"},
    }


def build(settings: Settings) -> ApiResources:
    from claims_tasks.celery_app import app as celery_app

    try:
        cipher: MultiFernet | None = make_cipher(settings.encryption_keys())
    except ConfigError:
        cipher = None
    from db.writers.dsn import is_odbc, odbc_target

    if is_odbc(settings.production_dsn):  # the API reads production through PostgreSQL (docs/SQLSERVER.md)
        raise ConfigError(
            f"the API needs a PostgreSQL production database; CLAIMS_PRODUCTION_DSN is an ODBC target "
            f"({odbc_target(settings.production_dsn).describe()}): see docs/SQLSERVER.md"
        )
    dsns = {"staging": settings.staging_dsn, "production": settings.production_dsn}
    sync = {name: ConnectionPool(**_pool_args(settings, dsn, name), open=True) for name, dsn in dsns.items()}
    # Opened by ApiResources.open(), in the running event loop.
    asynchronous = {
        name: AsyncConnectionPool(**_pool_args(settings, dsn, f"{name}.async"), open=False)
        for name, dsn in dsns.items()
    }
    client = redis.Redis.from_url(settings.broker_url, socket_timeout=3, socket_connect_timeout=3)
    telemetry = Telemetry(
        redis=client,
        broker_url=settings.broker_url,
        celery_app=celery_app,
        pools={**sync, **{f"{name}.async": pool for name, pool in asynchronous.items()}},
    )
    return ApiResources(
        settings=settings,
        staging=sync["staging"],
        production=sync["production"],
        staging_async=asynchronous["staging"],
        production_async=asynchronous["production"],
        redis=client,
        cipher=cipher,
        census=WorkerCensus(celery_app),
        telemetry=telemetry,
    )
