"""The PostgreSQL production writer: db/production.py's COPY code behind the writer interface, unchanged.

The worker's chunk paths call db/production.py directly on the connection they already hold (one fewer
indirection on the hot path, issue 10); this class is the same operations for code that wants the
interface (tests, tools) and what make_writer returns for a postgresql:// DSN.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date

import psycopg
from psycopg_pool import ConnectionPool

from claims_tasks.records import Claim
from db import production
from db.duplicates import PRODUCTION_QUERY
from db.duplicates import other_claims as _other_claims
from db.production import ChunkWrite


class PostgresSession:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def existing_outcomes(self, claim_ids: Sequence[str]) -> dict[str, str]:
        return production.existing_outcomes(self.conn, claim_ids)

    def write_rows(self, write: ChunkWrite) -> dict[str, int]:
        production.write_rows(self.conn, write)
        return {
            "claims": len(write.claims) + write.claims_text.count(b"\n"),
            "claim_lines": len(write.lines) + write.lines_text.count(b"\n"),
            "claim_diagnoses": len(write.diagnoses) + write.diagnoses_text.count(b"\n"),
            "failed_claims": len(write.failed),
        }

    def remove_outcomes(self, batch_id: str, outcomes: Mapping[str, str]) -> int:
        return production.remove_outcomes(self.conn, batch_id, outcomes)

    def other_claims(self, subscribers: Sequence[str], births: Sequence[date | str]) -> list[Claim]:
        return _other_claims(self.conn, PRODUCTION_QUERY, subscribers, births)

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()


class PostgresWriter:
    kind = "postgresql"

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    @contextmanager
    def session(self) -> Iterator[PostgresSession]:
        with self.pool.connection() as conn:
            yield PostgresSession(conn)

    def get_stats(self) -> dict[str, int]:
        return self.pool.get_stats()

    def close(self) -> None:
        self.pool.close()
