"""Production DSNs: which writer a DSN means, and ODBC connection strings read, checked and described.

Three shapes are accepted for CLAIMS_PRODUCTION_DSN:

- ``postgresql://…`` (or ``postgres://``): the PostgreSQL writer (COPY), as always;
- ``mssql+pyodbc://user:password@host:port/database?driver=ODBC+Driver+18+for+SQL+Server&…``: SQLAlchemy's
  URL form, turned into an ODBC connection string by SQLAlchemy's own mssql+pyodbc dialect;
- a raw ODBC connection string, ``DRIVER={…};SERVER=…;DATABASE=…;UID=…;PWD=…``.

The ODBC dialect (SQL Server, or PostgreSQL through psqlODBC) is read from the driver's name: an ODBC
string says nothing else about the database behind it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from claims_tasks.errors import ConfigError

PG_SCHEMES = ("postgresql", "postgres")
MSSQL_SCHEMES = ("mssql+pyodbc",)
# Substrings of driver names (lower case) and the dialect they mean; first match wins.
_DRIVER_DIALECTS = (
    ("postgres", "postgresql"),  # psqlODBC: "PostgreSQL Unicode", "PostgreSQL ANSI", psqlodbcw.so
    ("psqlodbc", "postgresql"),
    ("sql server", "mssql"),  # "ODBC Driver 18 for SQL Server", "SQL Server Native Client 11.0"
    ("msodbcsql", "mssql"),
    ("freetds", "mssql"),
    ("tdsodbc", "mssql"),
)


def kind(dsn: str) -> str:
    """'postgresql' or 'odbc'; anything else is a ConfigError naming what was given."""
    if is_odbc(dsn):
        return "odbc"
    scheme = urlsplit(dsn).scheme
    if scheme in PG_SCHEMES:
        return "postgresql"
    raise ConfigError(
        f"unknown production database scheme {scheme or '(none)'!r}: expected postgresql://, mssql+pyodbc:// "
        "or an ODBC connection string DRIVER=…;SERVER=…"
    )


def is_odbc(dsn: str) -> bool:
    if urlsplit(dsn).scheme in MSSQL_SCHEMES:
        return True
    return "=" in dsn and any(k in ("DRIVER", "DSN") for k in parse(dsn))


def parse(conn_str: str) -> dict[str, str]:
    """An ODBC connection string as {KEY (upper case): value}, braces ({a;b}) unwrapped."""
    out: dict[str, str] = {}
    i, n = 0, len(conn_str)
    while i < n:
        eq = conn_str.find("=", i)
        if eq < 0:
            break
        key = conn_str[i:eq].strip().upper()
        j = eq + 1
        if j < n and conn_str[j] == "{":
            # {…} may hold ';' and '}}' stands for a literal '}'
            k, value = j + 1, []
            while k < n:
                if conn_str[k] == "}":
                    if k + 1 < n and conn_str[k + 1] == "}":
                        value.append("}")
                        k += 2
                        continue
                    break
                value.append(conn_str[k])
                k += 1
            out[key] = "".join(value)
            semi = conn_str.find(";", k)
        else:
            semi = conn_str.find(";", j)
            out[key] = conn_str[j : semi if semi >= 0 else n].strip()
        i = n if semi < 0 else semi + 1
    return {k: v for k, v in out.items() if k}


@dataclass(frozen=True)
class OdbcTarget:
    """An ODBC production DSN, understood: what to hand pyodbc, and what to say about it."""

    connection_string: str
    driver: str
    dialect: str  # 'mssql' or 'postgresql'
    host: str
    database: str

    def describe(self) -> str:
        """Driver and where, never the password: for one-line errors and logs."""
        return f"ODBC driver {self.driver!r} at {self.host}/{self.database or '(default database)'}"


def odbc_target(dsn: str) -> OdbcTarget:
    """Read an ODBC DSN (either shape); ConfigError for one this project cannot use."""
    conn_str = _from_url(dsn) if urlsplit(dsn).scheme in MSSQL_SCHEMES else dsn
    keys = parse(conn_str)
    if "DRIVER" not in keys:
        if "DSN" in keys:
            raise ConfigError(
                f"ODBC data source name DSN={keys['DSN']} is not supported: name the driver (DRIVER={{…}};SERVER=…) "
                "so the dialect is known"
            )
        raise ConfigError("ODBC connection string has no DRIVER=…")
    driver = keys["DRIVER"]
    host = keys.get("SERVER") or keys.get("SERVERNAME") or keys.get("HOST") or "localhost"
    if keys.get("PORT"):
        host = f"{host}:{keys['PORT']}"
    target = OdbcTarget(conn_str, driver, dialect_of(driver), host, keys.get("DATABASE", ""))
    return target


def dialect_of(driver: str) -> str:
    low = driver.lower()
    for needle, dialect in _DRIVER_DIALECTS:
        if needle in low:
            return dialect
    raise ConfigError(
        f"unknown ODBC driver {driver!r}: supported are SQL Server drivers (ODBC Driver 17/18 for SQL Server, "
        "FreeTDS) and PostgreSQL's psqlODBC (PostgreSQL Unicode)"
    )


def check_driver_installed(target: OdbcTarget) -> None:
    """ConfigError naming the driver when unixODBC does not know it (and it is not a path to a library)."""
    try:
        import pyodbc
    except ImportError:
        raise ConfigError("pyodbc is not installed: pip install pyodbc (and apt-get install unixodbc)") from None
    if os.path.sep in target.driver:
        if not os.path.exists(target.driver):
            raise ConfigError(f"ODBC driver library {target.driver} does not exist")
        return
    installed = pyodbc.drivers()
    if target.driver not in installed:
        raise ConfigError(
            f"ODBC driver {target.driver!r} is not installed (odbcinst knows: {', '.join(installed) or 'none'})"
        )


def _from_url(url: str) -> str:
    from sqlalchemy.dialects.mssql.pyodbc import MSDialect_pyodbc
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"malformed mssql+pyodbc URL: {exc}") from None
    if "driver" not in parsed.query and "odbc_connect" not in parsed.query:
        raise ConfigError(
            f"mssql+pyodbc URL for {parsed.host or 'localhost'} names no ODBC driver: "
            "add ?driver=ODBC+Driver+18+for+SQL+Server"
        )
    args, _ = MSDialect_pyodbc().create_connect_args(parsed)
    return str(args[0])
