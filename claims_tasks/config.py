"""Settings: one class, read once per process by the entry points (CLI, Celery, API).

Precedence, highest first: environment variables (``CLAIMS_…``), a ``.env`` file, the YAML file named by
``APP_CONFIG`` or else ``config.<APP_ENV>.yaml``, ``config.yaml``, the defaults below. Secrets (the
encryption key) are refused in YAML files, which get committed; they come from the environment only.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from claims_tasks.errors import ConfigError

SECRET_FIELDS = frozenset({"encryption_key", "worker_db_password", "reader_db_password"})
PG_SCHEMES = ("postgresql", "postgres")


class _SecretFreeYaml(YamlConfigSettingsSource):
    """A YAML source that refuses secrets, so a committed config file can never carry one."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls, yaml_file=path)
        self.path = path

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        leaked = SECRET_FIELDS & set(data)
        if leaked:
            name = sorted(leaked)[0]
            raise ConfigError(
                f"{self.path}: '{name}' is a secret; set CLAIMS_{name.upper()} in the environment instead"
            )
        return data


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLAIMS_", env_file=".env", extra="ignore", populate_by_name=True)

    environment: str = Field(default="development", validation_alias="APP_ENV")

    staging_dsn: str = "postgresql://postgres@127.0.0.1:5432/staging_process"
    production_dsn: str = "postgresql://postgres@127.0.0.1:5432/smart_pro_claims"
    # Scale-out (docs/PERFORMANCE.md): comma-separated DSNs of the databases production claims are sharded
    # over by facility (claims, lines, diagnoses of facility shard k in the k-th); production_dsn stays the
    # home of everything else (failed claims, review, batches' scores, keys). Unset: one shard, production_dsn.
    production_shards: str | None = None
    broker_url: str = "redis://127.0.0.1:6379/0"

    shards: int = Field(default=4, ge=1, le=256)
    # 4,000 ids per message, by measurement (docs/PERFORMANCE.md): a chunk's fixed costs (round trips,
    # planning, per-operation overheads of the column path) amortise, so 100,000 claims ran at ~5,000
    # claims/s with chunks of 1,000 and ~9,000 with 5,000; a pool process's peak RSS grows with the chunk
    # (255 MB at 1,000, ~290 at 5,000), and 300 MB is the budget. A chunk still finishes in about a second.
    chunk_size: int = Field(default=4000, ge=1, le=50_000)
    # Ids marked `queued` per dispatch transaction: short transactions, bounded lock footprint.
    dispatch_page_size: int = Field(default=20_000, ge=1)
    dispatch_interval: float = Field(default=5.0, gt=0)

    encryption_key: SecretStr | None = None
    # Passwords `claims-tasks roles` gives the least-privilege database roles it creates (db/roles.py);
    # unset: the roles get none (peer/trust/certificate authentication, or set one later).
    worker_db_password: SecretStr | None = None
    reader_db_password: SecretStr | None = None

    timely_filing_days: int = Field(default=365, ge=1)
    # Seconds a worker process trusts what it read of production's facilities, payers and financial classes
    # (claims_tasks/reference_cache.py); a reference load or sync empties the cache sooner.
    reference_cache_ttl: float = Field(default=300.0, ge=0)
    # Redis re-delivers an unacknowledged chunk after this many seconds; it must exceed the longest chunk.
    visibility_timeout: int = Field(default=1800, ge=1)
    # A claim `queued` longer than this without an outcome is dispatched again (its message was lost).
    requeue_after: int = Field(default=3600, ge=1)

    # Connections of the ODBC production pool per worker process (SQL Server: docs/SQLSERVER.md), all
    # opened when the process starts.
    odbc_pool_size: int = Field(default=20, ge=1)
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=4, ge=1)
    # Seconds a task waits for a pooled connection before the attempt counts as a transient failure.
    pool_timeout: float = Field(default=10.0, gt=0)
    worker_prefetch_multiplier: int = Field(default=1, ge=1)
    task_max_retries: int = Field(default=5, ge=0)
    # Chunk retries wait uniform(0, min(max, base * 2**attempt)) seconds: exponential with full jitter.
    retry_backoff_base: float = Field(default=2.0, gt=0)
    retry_backoff_max: float = Field(default=300.0, gt=0)
    # Claims at or above this total charge are dispatched at the highest priority on their shard queue.
    high_value_threshold: float = Field(default=10_000.0, ge=0)
    # Dead letters are replayed by beat when both databases answer, at most this many times, backing off
    # from dead_letter_backoff seconds, doubling per replay.
    dead_letter_max_replays: int = Field(default=5, ge=0)
    dead_letter_backoff: float = Field(default=30.0, ge=0)
    # How often beat looks for lost work: stale queued claims, stale repairs, dead letters due a replay.
    sweep_interval: float = Field(default=30.0, gt=0)

    # The filter model (docs/MODEL.md): the artifact workers serve (its metadata is the .json beside it).
    # model_version, when set, pins the version that artifact must have; model_ab_path adds a challenger
    # that scores model_ab_share of claims, split by a stable hash of claim_id.
    model_path: Path = Path("ml/artifacts/filter_model.joblib")
    model_version: str | None = None
    model_ab_path: Path | None = None
    model_ab_share: float = Field(default=0.0, ge=0, le=1)
    # Claims whose denial risk is above this go to `review` instead of `done` (1.0: none do).
    review_threshold: float = Field(default=0.8, ge=0, le=1)

    # Data lifecycle (issue 9, docs/OPERATIONS_RUNBOOK.md). Which queues this worker consumes: shard numbers
    # and/or queue names, comma-separated ("0,1" or "0,claims.retry"); unset: every queue. `-Q` wins.
    worker_queues: str | None = None
    # Beat refreshes the analytics materialized views (sql/materialized_views.sql) this often.
    analytics_refresh_interval: float = Field(default=300.0, gt=0)
    # `claims-tasks retention`: payloads of failed claims closed this long ago are purged; final staging
    # claims this old are retired to staging.retired_claims; change-capture rows this old are deleted.
    retention_failed_phi_days: int = Field(default=365, ge=1)
    retention_staging_days: int = Field(default=90, ge=1)
    retention_change_log_days: int = Field(default=30, ge=1)

    @field_validator("staging_dsn")
    @classmethod
    def _postgres_dsn(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in PG_SCHEMES:
            raise ValueError(f"expected a postgresql:// URL, got scheme {scheme or '(none)'!r}")
        return value

    @field_validator("production_dsn")
    @classmethod
    def _production_dsn(cls, value: str) -> str:
        # postgresql://, or an ODBC target (mssql+pyodbc:// or DRIVER=…;SERVER=…): docs/SQLSERVER.md
        from db.writers.dsn import kind, odbc_target

        try:
            if kind(value) == "odbc":
                odbc_target(value)  # unknown driver, no driver named: refused here, in one line
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("production_shards")
    @classmethod
    def _postgres_dsns(cls, value: str | None) -> str | None:
        for dsn in (value or "").split(","):
            scheme = urlsplit(dsn.strip()).scheme
            if dsn.strip() and scheme not in PG_SCHEMES:
                raise ValueError(f"expected postgresql:// URLs, got scheme {scheme or '(none)'!r}")
        return value

    @model_validator(mode="after")
    def _shards_divide_queues(self) -> Settings:
        # A queue (and so a chunk) must map to one production shard: facility crc32 % queues fixes
        # crc32 % shards only when the shard count divides the queue count.
        count = len(self.production_shard_dsns())
        from db.writers.dsn import is_odbc

        if self.production_shards and is_odbc(self.production_dsn):
            raise ValueError("CLAIMS_PRODUCTION_SHARDS is not supported with an ODBC CLAIMS_PRODUCTION_DSN")
        if self.shards % count:
            raise ValueError(f"CLAIMS_SHARDS ({self.shards}) must be a multiple of the {count} production shards")
        return self

    def production_shard_dsns(self) -> list[str]:
        """Where production claims live, by facility shard; [production_dsn] when not sharded."""
        dsns = [d.strip() for d in (self.production_shards or "").split(",") if d.strip()]
        return dsns or [self.production_dsn]

    @field_validator("model_version", "model_ab_path", "worker_queues", "production_shards", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("broker_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in ("redis", "rediss"):
            raise ValueError(f"expected a redis:// URL, got scheme {scheme or '(none)'!r}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_sources = [_SecretFreeYaml(settings_cls, path) for path in config_files()]
        return (init_settings, env_settings, dotenv_settings, *yaml_sources)

    def encryption_keys(self) -> list[str]:
        """Fernet keys, newest first; several (comma-separated) let old payloads stay readable."""
        if self.encryption_key is None:
            return []
        return [k.strip() for k in self.encryption_key.get_secret_value().split(",") if k.strip()]


def config_files() -> list[Path]:
    """YAML files in precedence order, highest first; files that do not exist are skipped."""
    explicit = os.environ.get("APP_CONFIG")
    if explicit:
        if not Path(explicit).is_file():
            raise ConfigError(f"APP_CONFIG names {explicit}, which does not exist")
        first = Path(explicit)
    else:
        first = Path(f"config.{os.environ.get('APP_ENV', 'development')}.yaml")
    return [p for p in (first, Path("config.yaml")) if p.is_file()]


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation errors into one line that names the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        if not err["loc"]:  # a check across settings names its variables in the message
            raise ConfigError(f"invalid settings: {err['msg'].removeprefix('Value error, ')}") from None
        field = str(err["loc"][0])
        var = "APP_ENV" if field == "environment" else f"CLAIMS_{field.upper()}"
        raise ConfigError(f"invalid setting {var}: {err['msg']}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
