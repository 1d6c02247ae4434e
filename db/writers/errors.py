"""pyodbc errors, mapped to this project's two kinds: transient (retry the chunk) and not.

pyodbc puts the SQLSTATE first in ``exc.args``. Transient: the connection classes 08xxx (SQL Server's
08S01 link failure included), 40001 (deadlock victim / serialization failure), HYT00/HYT01 (timeouts),
and the PostgreSQL classes the psycopg path also retries (57 operator intervention, 53 resources).
Not transient, although some drivers file them under 08xxx: failed authentication (28xxx, "Login failed",
psqlODBC's 08001 "password authentication failed" / "role … does not exist") and a database that does not
exist: a retry cannot fix a wrong password, and dead-lettering it at once says so sooner.
"""

from __future__ import annotations

import re

TRANSIENT_PREFIXES = ("08", "40001", "40P01", "HYT00", "HYT01", "57", "53")
# Messages that mean "your settings are wrong" whatever the SQLSTATE the driver chose.
_NOT_TRANSIENT = re.compile(
    r"password authentication failed|role \".*\" does not exist|login failed|database \".*\" does not exist"
    r"|cannot open database|no pg_hba\.conf entry|can't open lib|data source name not found",
    re.IGNORECASE,
)


def sqlstate(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], str) and len(args[0]) == 5 else ""


def message(exc: BaseException) -> str:
    """The driver's message on one line, without the '[SQLSTATE] [unixODBC][Driver]' prefixes."""
    args = getattr(exc, "args", ())
    text = str(args[1] if len(args) > 1 else exc)
    text = re.sub(r"^(\[[^\]]*\]\s*)+", "", text.strip())
    text = re.sub(r"\s*\(\d+\)\s*\((SQL\w+)\)\s*$", "", text)
    return " ".join(text.split())


def is_odbc_error(exc: BaseException) -> bool:
    try:
        import pyodbc
    except ImportError:
        return False
    return isinstance(exc, pyodbc.Error)


def is_transient(exc: BaseException) -> bool:
    """For a pyodbc error: would the same work succeed if tried again later?"""
    state = sqlstate(exc)
    if state.startswith("28") or (state == "42000" and "login failed" in message(exc).lower()):
        return False
    if _NOT_TRANSIENT.search(message(exc)):
        return False
    return state.startswith(TRANSIENT_PREFIXES)


def is_refused_row(exc: BaseException) -> bool:
    """The database refused a value (data or integrity class, 22xxx/23xxx): the claim at fault is isolated
    and stored as a system failure instead of failing its chunk."""
    return sqlstate(exc)[:2] in ("22", "23")
