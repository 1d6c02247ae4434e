"""Connections: DSN handling, one-line errors for unreachable databases, database creation, migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from claims_tasks.errors import ConfigError, ServiceUnavailable, TransientError
from db.writers import errors as odbc_errors
from db.writers.dsn import is_odbc, odbc_target

ROOT = Path(__file__).resolve().parents[1]
ALEMBIC_INI = ROOT / "alembic.ini"

# SQLSTATE classes worth a retry: connection exceptions, deadlock/serialization, operator intervention
# (admin shutdown, cannot connect now, statement timeout), insufficient resources (too many connections,
# disk full), a lock NOWAIT could not take, system (I/O) errors.
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "40", "57", "53", "55P03", "58")


def describe(dsn: str) -> str:
    """host:port/dbname without the password, for messages."""
    parts = urlsplit(dsn)
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    return f"{host}:{port}{parts.path or '/'}"


def database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/") or "postgres"


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


def sqlalchemy_url(dsn: str) -> str:
    """Point SQLAlchemy at psycopg 3 rather than its psycopg2 default."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg"))


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransientError):
        return True
    if odbc_errors.is_odbc_error(exc):  # the ODBC production writer (db/writers/errors.py)
        return odbc_errors.is_transient(exc)
    state = getattr(exc, "sqlstate", None) or ""
    if state:
        # The server answered with a reason. Only these are worth a retry: psycopg also files e.g. 54000
        # (program limit exceeded: an index entry too large) under OperationalError, and retrying that one
        # only dead-letters its whole chunk later (tests/reliability/test_hostile_input.py).
        return state.startswith(_TRANSIENT_SQLSTATE_PREFIXES)
    # No answer at all: connection refused or lost, a pool timeout.
    return isinstance(exc, psycopg.OperationalError)


def connect(dsn: str, role: str, **kwargs: object) -> psycopg.Connection:
    """Open a connection, turning 'cannot connect' into one line that names the database and where."""
    if is_odbc(dsn):
        # An ODBC production target is written by the worker's chunk path and read by reconcile
        # (db/ledger_odbc.py), both through pyodbc; nothing else runs against it (docs/SQLSERVER.md).
        raise ConfigError(
            f"{role} database is an ODBC target ({odbc_target(dsn).describe()}); this needs PostgreSQL: "
            "see docs/SQLSERVER.md for what runs against SQL Server"
        )
    try:
        return psycopg.connect(dsn, connect_timeout=5, **kwargs)  # type: ignore[arg-type]
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ServiceUnavailable(f"{role} database at {describe(dsn)} is unreachable: {reason}") from None
    except psycopg.ProgrammingError as exc:
        raise ServiceUnavailable(f"{role} database DSN is malformed: {exc}") from None


@contextmanager
def connection(dsn: str, role: str, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    conn = connect(dsn, role, autocommit=autocommit)
    try:
        yield conn
    finally:
        conn.close()


def ensure_database(dsn: str, role: str) -> bool:
    """Create the database named in dsn when missing; True when it was created."""
    name = database_name(dsn)
    with connection(with_database(dsn, "postgres"), role, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            return False  # created concurrently by another init: same outcome
        return True


def drop_database(dsn: str) -> None:
    name = database_name(dsn)
    with connection(with_database(dsn, "postgres"), "admin", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def migrate(dsn: str, target: str, revision: str = "heads") -> None:
    """Run Alembic for one database: target is 'staging' or 'production' (an alembic.ini section)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ALEMBIC_INI), ini_section=target)
    cfg.set_section_option(target, "sqlalchemy.url", sqlalchemy_url(dsn).replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, revision)
