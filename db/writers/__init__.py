"""Production writers: one interface, chosen by the production DSN's scheme.

- ``postgresql://…`` → PostgresWriter (db/writers/postgres.py): COPY, db/production.py as always;
- ``mssql+pyodbc://…`` or ``DRIVER=…;SERVER=…`` → OdbcWriter (db/writers/odbc.py): pyodbc pool, temp table
  + fast_executemany, MERGE / insert-where-not-exists; SQL Server, or PostgreSQL through psqlODBC.

Which parts of the system use the writer and which still need PostgreSQL: docs/SQLSERVER.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date
from typing import Protocol

from claims_tasks.records import Claim
from db.production import ChunkWrite
from db.writers.dsn import is_odbc, kind


class ProductionSession(Protocol):
    """One connection, one transaction: what a chunk does to production."""

    def existing_outcomes(self, claim_ids: Sequence[str]) -> dict[str, str]: ...

    def write_rows(self, write: ChunkWrite) -> dict[str, int]: ...

    def remove_outcomes(self, batch_id: str, outcomes: Mapping[str, str]) -> int: ...

    def other_claims(self, subscribers: Sequence[str], births: Sequence[date | str]) -> list[Claim]: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class ProductionWriter(Protocol):
    kind: str

    def session(self) -> AbstractContextManager[ProductionSession]: ...

    def get_stats(self) -> dict[str, int]: ...

    def close(self) -> None: ...


def make_writer(dsn: str, *, pool_size: int = 20, pool_timeout: float = 10.0) -> ProductionWriter:
    """The writer a production DSN means (ConfigError, one line, for one no writer takes)."""
    if kind(dsn) == "odbc":
        from db.writers.odbc import OdbcWriter

        return OdbcWriter(dsn, pool_size=pool_size, timeout=pool_timeout)
    from psycopg_pool import ConnectionPool

    from db.writers.postgres import PostgresWriter

    return PostgresWriter(ConnectionPool(dsn, min_size=1, max_size=pool_size, timeout=pool_timeout, open=True))


__all__ = ["ProductionSession", "ProductionWriter", "is_odbc", "kind", "make_writer"]
