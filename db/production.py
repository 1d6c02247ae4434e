"""Bulk writes to the production database: one transaction per chunk, COPY for every table.

Idempotency: the caller first asks which claims already have an outcome here (a redelivered chunk) and
leaves them out; a concurrent duplicate delivery that slips past that check collides on a primary key,
the transaction rolls back as a whole and the caller retries with a fresh view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psycopg

from claims_tasks.records import CLAIM_FIELDS, DIAGNOSIS_FIELDS, LINE_FIELDS
from db.models import OPEN_FAILED

CLAIM_COLUMNS: tuple[str, ...] = (
    *CLAIM_FIELDS,
    "batch_id",
    "expected_reimbursement",
    "predicted_filter",
    "denial_risk",
    "model_version",
    "model_variant",
    "routed_to_review",
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
    "status",
)


@dataclass
class ChunkWrite:
    """Rows for one chunk, in the column orders above."""

    claims: list[tuple]
    lines: list[tuple]
    diagnoses: list[tuple]
    failed: list[tuple]


def existing_outcomes(conn: psycopg.Connection, claim_ids: Sequence[str]) -> dict[str, str]:
    """Claims of this list that production already holds: 'done' (or 'review' when the model routed it
    there) if in claims, 'failed' if an open failure. (A closed failure — repaired, resolved, voided — is
    history: the claim may be processed again.)"""
    ids = list(claim_ids)
    found = {
        cid: "review" if review else "done"
        for cid, review in conn.execute(
            "SELECT claim_id, routed_to_review FROM claims WHERE claim_id = ANY(%s)", (ids,)
        )
    }
    for (cid,) in conn.execute(
        "SELECT claim_id FROM failed_claims WHERE claim_id = ANY(%s) AND status = ANY(%s)",
        (ids, list(OPEN_FAILED)),
    ):
        found.setdefault(cid, "failed")
    return found


def remove_outcomes(conn: psycopg.Connection, batch_id: str, outcomes: Mapping[str, str]) -> int:
    """Compensation: delete what one attempt wrote for these claims (rows of this batch only)."""
    done = [cid for cid, s in outcomes.items() if s in ("done", "review")]
    failed = [cid for cid, s in outcomes.items() if s == "failed"]
    for table in ("claim_lines", "claim_diagnoses"):
        conn.execute(
            f"DELETE FROM {table} t USING claims c WHERE t.claim_id = c.claim_id"
            " AND c.claim_id = ANY(%s) AND c.batch_id = %s",
            (done, batch_id),
        )
    removed = conn.execute("DELETE FROM claims WHERE claim_id = ANY(%s) AND batch_id = %s", (done, batch_id)).rowcount
    removed += conn.execute(
        "DELETE FROM failed_claims WHERE claim_id = ANY(%s) AND batch_id = %s AND status = ANY(%s)",
        (failed, batch_id, list(OPEN_FAILED)),
    ).rowcount
    return removed


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
