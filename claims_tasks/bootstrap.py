"""`claims-tasks init`: databases, migrations, reference data and a development key. Safe to run twice."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

from claims_tasks.config import Settings
from claims_tasks.errors import ConfigError
from claims_tasks.model_cli import ensure_model
from db import engines, reference

DOTENV = Path(".env")


@dataclass
class InitReport:
    created: list[str] = field(default_factory=list)
    reference_rows: dict[str, int] = field(default_factory=dict)
    key_written: Path | None = None
    model: str = ""  # what happened to the filter model: trained, already there, or a warning


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
    for role, dsn in (("staging", settings.staging_dsn), ("production", settings.production_dsn)):
        if engines.ensure_database(dsn, role):
            report.created.append(engines.database_name(dsn))
        engines.migrate(dsn, role)
    with engines.connection(settings.staging_dsn, "staging") as conn:
        report.reference_rows = reference.load_reference(conn)
        conn.commit()
    report.model = ensure_model(settings.model_path)  # trains a small model when there is none
    return report
