"""`claims-tasks init` for an ODBC production target: SQL Server gets sql/sqlserver/production.sql; a
PostgreSQL reached through psqlODBC is checked for the schema its own migrations made (Alembic runs on
psycopg, so that database is migrated with its postgresql:// DSN)."""

from __future__ import annotations

import re
from pathlib import Path

from claims_tasks.errors import ConfigError
from db.writers import errors
from db.writers.dsn import check_driver_installed
from db.writers.odbc import connect, odbc_target

DDL = Path(__file__).resolve().parents[2] / "sql" / "sqlserver" / "production.sql"
_GO = re.compile(r"^\s*GO\s*$", re.MULTILINE | re.IGNORECASE)


def sqlserver_statements(path: Path = DDL) -> list[str]:
    """The DDL file's batches (split on GO lines), comment-only batches left out, in order."""
    batches = []
    for batch in _GO.split(path.read_text()):
        code = "\n".join(ln for ln in batch.splitlines() if not ln.strip().startswith("--")).strip()
        if code:
            batches.append(code)
    return batches


def init_odbc_production(dsn: str) -> str:
    """Apply or check the production schema behind an ODBC DSN; returns what was done, for init's report."""
    target = odbc_target(dsn)
    check_driver_installed(target)
    conn = connect(target, autocommit=True)
    try:
        cur = conn.cursor()
        if target.dialect == "mssql":
            for stmt in sqlserver_statements():
                cur.execute(stmt)  # each batch guarded: running init twice changes nothing
            return f"SQL Server schema applied ({target.describe()})"
        try:
            cur.execute("SELECT count(*) FROM claims WHERE 1 = 0").fetchall()
        except Exception as exc:
            if errors.is_odbc_error(exc):
                raise ConfigError(
                    f"production database ({target.describe()}) has no claims table: migrate it first with its "
                    f"postgresql:// DSN (claims-tasks init): {errors.message(exc)}"
                ) from None
            raise
        return f"PostgreSQL schema present ({target.describe()})"
    finally:
        conn.close()
