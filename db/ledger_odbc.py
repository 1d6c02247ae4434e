"""The ledger check (db/ledger.py) against an ODBC production: SQL Server, or PostgreSQL through psqlODBC.

COPY cannot cross ODBC, so the staging side arrives as rows, a batch at a time, and goes into a session temp
table (`#rc` on SQL Server, a TEMP table `rc` on PostgreSQL) by fast_executemany: parameter arrays, one round
trip per batch. Keyed by claim id and given statistics, it is joined by the checks written for the dialect
(db/writers/dialects.py `ledger_checks`), which count what db/ledger.py's _CHECKS counts. The transaction is
rolled back and the connection closed: the temp table goes with the session, production is not written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from claims_tasks.errors import ServiceUnavailable
from db.writers import errors
from db.writers.dialects import DIALECTS, LEDGER_ROWS, Dialect
from db.writers.dsn import OdbcTarget, check_driver_installed, odbc_target
from db.writers.odbc import connect

logger = logging.getLogger(__name__)


def check(
    production_dsn: str, staging_side: Iterable[Sequence[Sequence[Any]]], batch: str | None, analyze: Sequence[str]
) -> tuple[int, int, int, int, int]:
    """(missing, duplicates, unexpected, line_mismatches, repairs_in_flight) of the staging side (batches of
    (claim id, state, lines, diagnoses) rows) against the ODBC production. analyze: the production tables
    to give statistics first when they have none (PostgreSQL only)."""
    target = odbc_target(production_dsn)
    check_driver_installed(target)  # and pyodbc importable: one line if not
    import pyodbc

    dialect = DIALECTS[target.dialect]
    conn = connect(target)
    try:
        _analyze_if_never(conn, dialect, analyze)
        cur = conn.cursor()
        stage = dialect.ledger_stage()
        for stmt in dialect.prepare_stage(stage):
            cur.execute(stmt)
        rows = _load(cur, dialect, stage, staging_side)
        for stmt in dialect.ledger_analyze():
            cur.execute(stmt)
        params = [batch] if batch is not None else []
        found = cur.execute(dialect.ledger_checks(batch is not None), *params).fetchone()
        conn.rollback()
        logger.info("reconcile: %d staging claims checked against %s", rows, target.describe())
    except pyodbc.Error as exc:
        raise _failed(target, exc) from None
    finally:
        conn.close()
    assert found is not None
    missing, duplicates, unexpected, mismatches, repairs = (int(v) for v in found)
    return missing, duplicates, unexpected, mismatches, repairs


def _load(cur: Any, dialect: Dialect, stage: Any, staging_side: Iterable[Sequence[Sequence[Any]]]) -> int:
    insert = dialect.load_stage(stage)
    convert = dialect.converter(LEDGER_ROWS, [c.name for c in LEDGER_ROWS.columns])
    cur.fast_executemany = True
    n = 0
    for rows in staging_side:
        if rows:
            cur.executemany(insert, [convert(r) for r in rows])
            n += len(rows)
    return n


def _analyze_if_never(conn: Any, dialect: Dialect, tables: Sequence[str]) -> None:
    """db/ledger.py's _analyze_if_never over ODBC. Outside the check's transaction (autocommit), so that an
    ANALYZE this role may not run is skipped without aborting it."""
    import pyodbc

    query = dialect.never_analyzed(tables)
    if query is None or not tables:
        return
    conn.autocommit = True
    try:
        cur = conn.cursor()
        for (name,) in cur.execute(query).fetchall():
            try:
                cur.execute(f"ANALYZE {dialect.quote(name)}")  # a name from `tables`, via the catalogue
            except pyodbc.Error as exc:
                if errors.sqlstate(exc) != "42501":  # insufficient privilege
                    raise
                logger.info("reconcile: %s has no statistics and this role may not ANALYZE it", name)
    finally:
        conn.autocommit = False


def _failed(target: OdbcTarget, exc: BaseException) -> Exception:
    """One line naming the driver and host, as the writer's connection errors are."""
    return ServiceUnavailable(f"reconcile against production ({target.describe()}) failed: {errors.message(exc)}")
