"""`claims-tasks init`: databases, migrations, reference data and a development key. Safe to run twice."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from cryptography.fernet import Fernet

from claims_tasks.config import Settings
from claims_tasks.errors import ConfigError
from claims_tasks.model_cli import ensure_model
from db import engines, partitions, reference
from db.production_reference import sync_production_reference
from db.writers.dsn import is_odbc
from db.writers.schema import init_odbc_production

DOTENV = Path(".env")


@dataclass
class InitReport:
    created: list[str] = field(default_factory=list)
    reference_rows: dict[str, int] = field(default_factory=dict)
    # Rows changed per production reference master (facilities, payers, financial classes) by the sync.
    production_reference: dict[str, int] = field(default_factory=dict)
    key_written: Path | None = None
    model: str = ""  # what happened to the filter model: trained, already there, or a warning
    production_schema: str = ""  # an ODBC production target: what init did to it (db/writers/schema.py)


def ensure_encryption_key(settings: Settings, dotenv: Path = DOTENV) -> Path | None:
    """Outside development a missing key is an error; in development write one to .env (never committed)."""
    if settings.encryption_keys():
        return None
    if settings.environment != "development":
        raise ConfigError(f"CLAIMS_ENCRYPTION_KEY is not set (APP_ENV={settings.environment})")
    key = Fernet.generate_key().decode()
    existing = dotenv.read_text() if dotenv.exists() else ""
    sep = "" if not existing or existing.endswith("\n") else "\n"
    dotenv.write_text(f"{existing}{sep}CLAIMS_ENCRYPTION_KEY={key}\n")
    dotenv.chmod(0o600)
    os.environ["CLAIMS_ENCRYPTION_KEY"] = key
    return dotenv


def init_databases(settings: Settings) -> InitReport:
    report = InitReport()
    odbc = is_odbc(settings.production_dsn)
    if odbc:  # SQL Server (or psqlODBC): checked first, so a bad DSN fails before anything is created
        report.production_schema = init_odbc_production(settings.production_dsn)
    # Sharded production: every shard gets the production schema (its claims tables are the ones used).
    shards = [("production", d) for d in settings.production_shard_dsns() if d != settings.production_dsn]
    production = [] if odbc else [("production", settings.production_dsn)]
    for role, dsn in (("staging", settings.staging_dsn), *production, *shards):
        if engines.ensure_database(dsn, role):
            report.created.append(engines.database_name(dsn))
        engines.migrate(dsn, role)
    if not odbc:
        with engines.connection(settings.production_dsn, "production") as conn:
            partitions.ensure_current(conn, date.today())  # claims' yearly partitions around today (issue 9)
    with engines.connection(settings.staging_dsn, "staging") as conn:
        report.reference_rows = reference.load_reference(conn)
        conn.commit()
        # Production holds the copies the rules check (db/production_reference.py): brought in step here.
        report.production_reference = sync_production_reference(conn, settings.production_dsn)
        conn.commit()
    report.model = ensure_model(settings.model_path)  # trains a small model when there is none
    return report
