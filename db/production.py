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
from db.params import text_array

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
    """Rows for one chunk, in the column orders above: as tuples, and (the chunk path's valid claims) as
    COPY text blocks, which go to PostgreSQL as they are. A writer for another database reads the blocks
    with copy_rows()."""

    claims: list[tuple]
    lines: list[tuple]
    diagnoses: list[tuple]
    failed: list[tuple]
    claims_text: bytes = b""
    lines_text: bytes = b""
    diagnoses_text: bytes = b""


def copy_rows(block: bytes) -> list[tuple[str | None, ...]]:
    """A COPY text block as tuples of text values (None for NULL), for writers that cannot take the text
    (arrays stay literals such as {25,59}). The chunk path only emits blocks without escapes."""
    return [tuple(None if v == "\\N" else v for v in row.split("\t")) for row in block.decode().splitlines()]


# Per id, one index probe of each table (LATERAL .. LIMIT 1 keeps each probe a parameterized index scan,
# whatever the statistics say). Not a join with the unnested ids, nor `= ANY`: on a production whose
# statistics lag its rows (autovacuum off, or a night's load not yet analyzed) the planner took claim_id for
# unselective (claims' keys are (claim_id, service_from), per partition) and read the whole table, or merged
# over its whole index: 0.1-0.6 s per chunk at a million claims.
_HELD_QUERY = """
SELECT i.claim_id, CASE WHEN c.routed_to_review THEN 'review' ELSE 'done' END, 0 AS k
FROM unnest(%(ids)s::text[]) AS i(claim_id)
CROSS JOIN LATERAL (SELECT routed_to_review FROM claims WHERE claim_id = i.claim_id LIMIT 1) c
"""
_OPEN_FAILED_QUERY = """
SELECT i.claim_id, 'failed', 1
FROM unnest(%(ids)s::text[]) AS i(claim_id)
CROSS JOIN LATERAL (
    SELECT 1 FROM failed_claims WHERE claim_id = i.claim_id AND status = ANY(%(open)s) LIMIT 1
) f
"""
# Both in one round trip, claims rows first.
EXISTING_QUERY = f"{_HELD_QUERY}UNION ALL{_OPEN_FAILED_QUERY}ORDER BY k\n"


def _probe(conn: psycopg.Connection, query: str, claim_ids: Sequence[str]) -> list[tuple[str, str, int]]:
    return conn.execute(query, {"ids": text_array(claim_ids), "open": list(OPEN_FAILED)}).fetchall()


def existing_outcomes(conn: psycopg.Connection, claim_ids: Sequence[str]) -> dict[str, str]:
    """Claims of this list that production already holds: 'done' (or 'review' when the model routed it
    there) if in claims, 'failed' if an open failure. (A closed failure — repaired, resolved, voided — is
    history: the claim may be processed again.)"""
    found: dict[str, str] = {}
    for cid, outcome, _first in _probe(conn, EXISTING_QUERY, claim_ids):
        found.setdefault(cid, outcome)  # claims rows come first: a claim in production is done
    return found


def claims_held(conn: psycopg.Connection, claim_ids: Sequence[str]) -> dict[str, str]:
    """existing_outcomes' claims half: 'done' or 'review' for claims this database holds (a claims shard)."""
    return {cid: outcome for cid, outcome, _ in _probe(conn, _HELD_QUERY, claim_ids)}


def open_failures(conn: psycopg.Connection, claim_ids: Sequence[str]) -> set[str]:
    """existing_outcomes' failures half: claims with an open failure here (the home database)."""
    return {cid for cid, _, _ in _probe(conn, _OPEN_FAILED_QUERY, claim_ids)}


def remove_outcomes(conn: psycopg.Connection, batch_id: str, outcomes: Mapping[str, str]) -> int:
    """Compensation: delete what one attempt wrote for these claims (rows of this batch only)."""
    done = [cid for cid, s in outcomes.items() if s in ("done", "review")]
    failed = [cid for cid, s in outcomes.items() if s == "failed"]
    for table in ("claim_lines", "claim_diagnoses"):
        conn.execute(
            f"DELETE FROM {table} t USING claims c WHERE t.claim_id = c.claim_id"  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
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


def _copy_text(conn: psycopg.Connection, table: str, columns: Sequence[str], block: bytes) -> None:
    if block:
        with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(block)


def write_rows(conn: psycopg.Connection, write: ChunkWrite) -> None:
    """Write a chunk's outcome rows in the caller's transaction."""
    _copy_in(conn, "claims", CLAIM_COLUMNS, write.claims)
    _copy_text(conn, "claims", CLAIM_COLUMNS, write.claims_text)
    _copy_in(conn, "claim_lines", LINE_FIELDS, write.lines)
    _copy_text(conn, "claim_lines", LINE_FIELDS, write.lines_text)
    _copy_in(conn, "claim_diagnoses", DIAGNOSIS_FIELDS, write.diagnoses)
    _copy_text(conn, "claim_diagnoses", DIAGNOSIS_FIELDS, write.diagnoses_text)
    _copy_in(conn, "failed_claims", FAILED_COLUMNS, write.failed)
