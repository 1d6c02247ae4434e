"""Alembic environment for both databases; the ini section (`-n staging|production`) picks which."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

from db.models import STAGING_SCHEMA, is_claims_partition, production_metadata, staging_metadata

config = context.config
target = config.config_ini_section

if config.config_file_name and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)

if not config.get_main_option("sqlalchemy.url"):
    from claims_tasks.config import get_settings
    from db.engines import sqlalchemy_url

    settings = get_settings()
    dsn = settings.staging_dsn if target == "staging" else settings.production_dsn
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(dsn).replace("%", "%%"))

if target == "staging":
    metadata = staging_metadata
    options = {"version_table_schema": STAGING_SCHEMA, "include_schemas": True}
elif target == "production":
    metadata = production_metadata
    options = {}
else:
    raise SystemExit(f"alembic: unknown section {target!r}; use -n staging or -n production")


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    if type_ == "schema":
        return name in (None, STAGING_SCHEMA)
    # claims' partitions are managed by `claims-tasks partition`, not by the models (db/partitions.py).
    return not (type_ == "table" and is_claims_partition(name))


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True, **options
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = engine_from_config(
        config.get_section(target, {}) | {"sqlalchemy.url": config.get_main_option("sqlalchemy.url")},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        if target == "staging":
            # The version table lives in the schema, so the schema must exist before Alembic looks.
            connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {STAGING_SCHEMA}")
            connection.commit()
        context.configure(connection=connection, target_metadata=metadata, include_name=_include_name, **options)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
