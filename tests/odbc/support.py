"""What the ODBC tests share: the skip when this machine cannot run them, and the psqlODBC DSN of the
test session's private production database."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

PSQLODBC = "PostgreSQL Unicode"


def require_psqlodbc() -> None:
    """Skip the calling module (reason printed by -ra) unless pyodbc and psqlODBC are installed."""
    try:
        import pyodbc
    except ImportError:
        pytest.skip("pyodbc is not installed (pip install pyodbc; deploy/local.sh test installs it)",
                    allow_module_level=True)  # fmt: skip
    if PSQLODBC not in pyodbc.drivers():
        pytest.skip(f"ODBC driver {PSQLODBC!r} missing (apt-get install odbc-postgresql unixodbc)",
                    allow_module_level=True)  # fmt: skip


def odbc_dsn(postgres_dsn: str, **overrides: str) -> str:
    """A psqlODBC connection string for the database a postgresql:// DSN names."""
    parts = urlsplit(postgres_dsn)
    keys = {
        "DRIVER": "{" + PSQLODBC + "}",
        "SERVER": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        "DATABASE": parts.path.lstrip("/"),
        "UID": unquote(parts.username or "postgres"),
        "PWD": unquote(parts.password or ""),
        **overrides,
    }
    return ";".join(f"{k}={v}" for k, v in keys.items())
