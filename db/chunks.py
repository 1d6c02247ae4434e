"""A chunk out of staging as text, in one round trip, no decoding (claims_tasks.columns parses it).

The same rows db.staging.load_chunk reads (claims still `queued` for this batch, their lines and diagnoses
in order), as three blocks of COPY text. One query builds them server-side with string_agg: COPY would
send a message per row (6,000 for a chunk of 1,000 claims), and receiving each costs the worker more in
Python than PostgreSQL spends producing it. Text values have their backslashes doubled as COPY would;
tabs and newlines inside a value are not escaped, so the row counts come along for
claims_tasks.columns.plain_text to notice such a value (the chunk then takes the record path).
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from claims_tasks.columns import RawChunk
from claims_tasks.records import CLAIM_FIELDS, DIAGNOSIS_FIELDS, LINE_FIELDS
from db.bounds import bounded
from db.params import text_array

# Columns stored as text: the ones whose values may hold a backslash.
_TEXT = frozenset({
    "claim_id", "facility_id", "patient_account_number", "patient_first_name", "patient_last_name", "sex",
    "subscriber_id", "payer_id", "financial_class", "billing_npi", "rendering_npi", "place_of_service",
    "claim_frequency", "prior_auth_number", "procedure_code", "icd10_code", "revenue_code",
})  # fmt: skip


def _row(fields: Sequence[str], alias: str) -> str:
    """One row as COPY text: each column's text output (backslashes doubled), \\N for NULL."""
    parts = []
    for name in fields:
        # bounded: dates Python cannot hold come back clamped (db/bounds.py), else one fails the chunk.
        value = f"replace({alias}.{name}, '\\', '\\\\')" if name in _TEXT else f"{bounded(name, alias)}::text"
        parts.append(f"coalesce({value}, '\\N')")
    return f"concat_ws(E'\\t', {', '.join(parts)})"


def _block(fields: Sequence[str], alias: str, order: str = "") -> str:
    return f"count(*), convert_to(string_agg({_row(fields, alias)}, E'\\n'{order}) || E'\\n', 'UTF8')"


# The chunk's claims by primary key first (MATERIALIZED keeps the planner from starting at a batch's
# million queued rows), then the ledger filter; lines and diagnoses of exactly those claims, in order.
CHUNK_QUERY = f"""
WITH chunk AS MATERIALIZED (SELECT * FROM staging.claims WHERE claim_id = ANY(%(ids)s)),
q AS MATERIALIZED (SELECT * FROM chunk WHERE status = 'queued' AND batch_id = %(batch)s)
SELECT c.*, l.*, d.*
FROM (SELECT {_block(CLAIM_FIELDS, "q", " ORDER BY q.claim_id")} FROM q) c,
     (SELECT {_block(LINE_FIELDS, "l", " ORDER BY l.claim_id, l.line_number")}
      FROM staging.claim_lines l WHERE l.claim_id IN (SELECT claim_id FROM q)) l,
     (SELECT {_block(DIAGNOSIS_FIELDS, "d", " ORDER BY d.claim_id, d.sequence")}
      FROM staging.claim_diagnoses d WHERE d.claim_id IN (SELECT claim_id FROM q)) d
"""  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters


def read_chunk(conn: psycopg.Connection, batch_id: str, claim_ids: Sequence[str]) -> RawChunk:
    """The chunk's claims still `queued` for this batch (a redelivery finds fewer), with their lines and
    diagnoses, as COPY text blocks and their row counts."""
    row = conn.cursor(binary=True).execute(CHUNK_QUERY, {"ids": text_array(claim_ids), "batch": batch_id}).fetchone()
    assert row is not None  # aggregates always return a row
    n_claims, claims, n_lines, lines, n_dx, diagnoses = row
    return RawChunk(bytes(claims or b""), bytes(lines or b""), bytes(diagnoses or b""), (n_claims, n_lines, n_dx))
