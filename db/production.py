"""Bulk writes to the production database: one transaction per chunk, COPY for every table.

Idempotency: the caller first asks which claims already have an outcome here (a redelivered chunk) and
leaves them out; a concurrent duplicate delivery that slips past that check collides on a primary key,
the transaction rolls back as a whole and the caller retries with a fresh view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from claims_tasks.records import CLAIM_FIELDS, DIAGNOSIS_FIELDS, LINE_FIELDS

CLAIM_COLUMNS: tuple[str, ...] = (
    *CLAIM_FIELDS,
    "batch_id",
    "expected_reimbursement",
    "predicted_filter",
    "denial_risk",
    "model_version",
)
FAILED_COLUMNS: tuple[str, ...] = (
    "claim_id",
    "batch_id",
    "facility_id",
    "failure_category",
    "rule_codes",
    "failures",
    "encrypted_payload",
    "priority",
    "potential_revenue",
)


@dataclass
class ChunkWrite:
    """Rows for one chunk, in the column orders above."""

    claims: list[tuple]
    lines: list[tuple]
    diagnoses: list[tuple]
    failed: list[tuple]


def existing_outcomes(conn: psycopg.Connection, claim_ids: Sequence[str]) -> dict[str, str]:
    """Claims of this list that production already holds: 'done' if in claims, 'failed' if failed."""
    ids = list(claim_ids)
    found = {
        cid: "done" for (cid,) in conn.execute("SELECT claim_id FROM claims WHERE claim_id = ANY(%s)", (ids,))
    }
    for (cid,) in conn.execute("SELECT claim_id FROM failed_claims WHERE claim_id = ANY(%s)", (ids,)):
        found.setdefault(cid, "failed")
    return found


def _copy_in(conn: psycopg.Connection, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    if not rows:
        return
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def write_rows(conn: psycopg.Connection, write: ChunkWrite) -> None:
    """Write a chunk's outcome rows in the caller's transaction."""
    _copy_in(conn, "claims", CLAIM_COLUMNS, write.claims)
    _copy_in(conn, "claim_lines", LINE_FIELDS, write.lines)
    _copy_in(conn, "claim_diagnoses", DIAGNOSIS_FIELDS, write.diagnoses)
    _copy_in(conn, "failed_claims", FAILED_COLUMNS, write.failed)


def advance_batch(conn: psycopg.Connection, batch_id: str, done: int, failed: int, review: int) -> None:
    """Add a chunk's outcomes; the batch finishes when every dispatched claim has one."""
    if not (done or failed or review):
        return
    conn.execute(
        """
        UPDATE batches SET
            done = done + %(d)s, failed = failed + %(f)s, review = review + %(r)s,
            status = CASE WHEN status = 'running' AND done + failed + review + %(d)s + %(f)s + %(r)s >= total
                          THEN 'finished' ELSE status END,
            finished_at = CASE WHEN status = 'running'
                                    AND done + failed + review + %(d)s + %(f)s + %(r)s >= total
                               THEN now() ELSE finished_at END
        WHERE batch_id = %(b)s
        """,
        {"d": done, "f": failed, "r": review, "b": batch_id},
    )


def open_batch(conn: psycopg.Connection, batch_id: str, shards: int, chunk_size: int) -> None:
    conn.execute(
        "INSERT INTO batches (batch_id, status, shards, chunk_size) VALUES (%s, 'dispatching', %s, %s)",
        (batch_id, shards, chunk_size),
    )


def add_to_batch(conn: psycopg.Connection, batch_id: str, claims: int, chunks: int) -> None:
    conn.execute(
        "UPDATE batches SET total = total + %s, chunks = chunks + %s WHERE batch_id = %s",
        (claims, chunks, batch_id),
    )


def close_dispatch(conn: psycopg.Connection, batch_id: str) -> None:
    """Dispatch is over: the batch runs, or is already finished if the workers were faster."""
    conn.execute(
        """
        UPDATE batches SET dispatched_at = now(),
            status = CASE WHEN done + failed + review >= total THEN 'finished' ELSE 'running' END,
            finished_at = CASE WHEN done + failed + review >= total THEN now() END
        WHERE batch_id = %s
        """,
        (batch_id,),
    )


def abort_batch(conn: psycopg.Connection, batch_id: str) -> None:
    conn.execute("UPDATE batches SET status = 'aborted' WHERE batch_id = %s AND total = 0", (batch_id,))


@dataclass
class BatchProgress:
    batch_id: str
    status: str
    total: int
    chunks: int
    done: int
    failed: int
    review: int
    created_at: object
    dispatched_at: object
    finished_at: object

    @property
    def processed(self) -> int:
        return self.done + self.failed + self.review


def get_batch(conn: psycopg.Connection, batch_id: str) -> BatchProgress | None:
    row = conn.execute(
        "SELECT batch_id, status, total, chunks, done, failed, review, created_at, dispatched_at,"
        " finished_at FROM batches WHERE batch_id = %s",
        (batch_id,),
    ).fetchone()
    return BatchProgress(*row) if row else None
