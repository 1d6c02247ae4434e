"""Reads and status writes against the staging database: a chunk in three COPYs, one UPDATE for outcomes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg

from claims_tasks.records import (
    CLAIM_FIELDS,
    DIAGNOSIS_FIELDS,
    LINE_FIELDS,
    Claim,
    Diagnosis,
    Line,
    diagnosis_rows,
    line_rows,
)
from claims_tasks.rules import EditTables
from db import batches
from db.bounds import select_list
from db.edit_reference import load_edit_tables, reference_version
from db.params import text_array

_CLAIM_TYPES = [
    "text", "text", "text", "text", "text", "date", "text", "text", "text", "text", "text", "text",
    "text", "text", "date", "date", "numeric", "text", "timestamptz",
]  # fmt: skip
_LINE_TYPES = ["text", "int2", "text", "text[]", "numeric", "numeric", "date", "text", "int2[]", "text"]
_DIAGNOSIS_TYPES = ["text", "int2", "text"]


def _copy_rows(conn: psycopg.Connection, query: str, params: Sequence[object], types: list[str]) -> Iterable[tuple]:
    with conn.cursor().copy(query, params) as copy:
        copy.set_types(types)
        yield from copy.rows()


def load_chunk(conn: psycopg.Connection, batch_id: str, claim_ids: Sequence[str]) -> list[Claim]:
    """The chunk's claims that are still `queued` for this batch, with their lines and diagnoses.

    Claims another delivery already finished (or that were re-dispatched to another batch) are left out,
    which is what makes a redelivered message harmless.
    """
    return _load(conn, "claim_id = ANY(%s) AND status = 'queued' AND batch_id = %s", (list(claim_ids), batch_id))


def load_claims(conn: psycopg.Connection, claim_ids: Sequence[str]) -> list[Claim]:
    """Claims as staging holds them, whatever their state (corrections, reprocessing)."""
    return _load(conn, "claim_id = ANY(%s)", (list(claim_ids),))


def _load(conn: psycopg.Connection, where: str, params: Sequence[object]) -> list[Claim]:
    claim_rows = list(
        _copy_rows(
            conn,
            # Dates Python cannot hold come back clamped (db/bounds.py): one must not fail its whole chunk.
            f"COPY (SELECT {select_list(CLAIM_FIELDS)} FROM staging.claims WHERE {where}) TO STDOUT",  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
            params,
            _CLAIM_TYPES,
        )
    )
    if not claim_rows:
        return []
    ids = [row[0] for row in claim_rows]
    lines: dict[str, list[Line]] = defaultdict(list)
    for cid, num, code, mods, units, charge, sdate, pos, ptrs, revenue in _copy_rows(
        conn,
        f"COPY (SELECT {select_list(LINE_FIELDS)} FROM staging.claim_lines"  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
        " WHERE claim_id = ANY(%s) ORDER BY claim_id, line_number) TO STDOUT",
        (ids,),
        _LINE_TYPES,
    ):
        lines[cid].append(Line(num, code, tuple(mods or ()), units, charge, sdate, pos, tuple(ptrs or ()), revenue))
    diagnoses: dict[str, list[Diagnosis]] = defaultdict(list)
    for cid, seq, code in _copy_rows(
        conn,
        f"COPY (SELECT {', '.join(DIAGNOSIS_FIELDS)} FROM staging.claim_diagnoses"  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
        " WHERE claim_id = ANY(%s) ORDER BY claim_id, sequence) TO STDOUT",
        (ids,),
        _DIAGNOSIS_TYPES,
    ):
        diagnoses[cid].append(Diagnosis(seq, code))
    return [
        Claim(*row, lines=tuple(lines.get(row[0], ())), diagnoses=tuple(diagnoses.get(row[0], ())))
        for row in claim_rows
    ]


def write_corrections(conn: psycopg.Connection, claim: Claim) -> None:
    """Store an operator-corrected claim over its staging rows (the original stays in the failed claim's
    encrypted payload)."""
    editable = [f for f in CLAIM_FIELDS if f not in ("claim_id", "facility_id", "received_at")]
    conn.execute(
        f"UPDATE staging.claims SET {', '.join(f'{f} = %s' for f in editable)}, updated_at = now() WHERE claim_id = %s",  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
        (*(getattr(claim, f) for f in editable), claim.claim_id),
    )
    conn.execute("DELETE FROM staging.claim_lines WHERE claim_id = %s", (claim.claim_id,))
    conn.execute("DELETE FROM staging.claim_diagnoses WHERE claim_id = %s", (claim.claim_id,))
    cur = conn.cursor()
    cur.executemany(
        f"INSERT INTO staging.claim_lines ({', '.join(LINE_FIELDS)}) VALUES ({', '.join(['%s'] * len(LINE_FIELDS))})",  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
        line_rows(claim),
    )
    cur.executemany(
        "INSERT INTO staging.claim_diagnoses (claim_id, sequence, icd10_code) VALUES (%s, %s, %s)",
        diagnosis_rows(claim),
    )


# One statement per outcome, each a primary-key probe of its ids. Not a join with unnest(ids, outcomes): no
# index names status or batch_id (migration s0009), so the planner guesses `status = 'queued' AND batch_id =
# ...` from statistics taken before the dispatch (no claim queued) as one row, and a one-row outer side
# made it loop over the whole array for every claim: a minute per chunk of 4,000.
MARK_OUTCOME = """
UPDATE staging.claims SET status = %s, updated_at = now()
WHERE claim_id = ANY(%s) AND status = 'queued' AND batch_id = %s
"""


def mark_outcomes(conn: psycopg.Connection, batch_id: str, outcomes: Mapping[str, str]) -> dict[str, int]:
    """Move claims from `queued` to their outcome (done/failed/review), and advance the batch by what
    actually changed, in the same transaction. Returns the flipped counts per status."""
    if not outcomes:
        return {}
    by_status: dict[str, list[str]] = {}
    for claim_id, status in outcomes.items():
        by_status.setdefault(status, []).append(claim_id)
    flipped = {}
    for status, ids in sorted(by_status.items()):
        n = conn.execute(MARK_OUTCOME, (status, text_array(ids), batch_id)).rowcount
        if n:
            flipped[status] = n
    batches.advance_batch(conn, batch_id, flipped)
    return flipped


def move_claims(conn: psycopg.Connection, claim_ids: Sequence[str], from_state: str, to_state: str) -> dict[str, int]:
    """Move claims between ledger states after processing (failed -> done on repair, failed -> resolved on
    void), keeping each batch's counters in step in the same transaction. Returns moved claims per batch."""
    moved = dict(
        conn.execute(
            """
            WITH moved AS (
                UPDATE staging.claims SET status = %s, updated_at = now()
                WHERE claim_id = ANY(%s) AND status = %s
                RETURNING batch_id
            )
            SELECT batch_id, count(*) FROM moved GROUP BY batch_id
            """,
            (to_state, list(claim_ids), from_state),
        ).fetchall()
    )
    for batch_id, n in moved.items():
        batches.shift(conn, batch_id, from_state, to_state, n)
    return moved


@dataclass(frozen=True)
class Reference:
    """Reference data a worker caches: the active code sets rules check and the RVU price table."""

    facilities: frozenset[str]
    payers: frozenset[str]
    financial_classes: frozenset[str]
    rvu_per_unit: Mapping[str, Decimal]
    edits: EditTables = field(default_factory=EditTables)  # ICD-10-CM, codes, modifiers, MUE, NCCI, auth
    version: int = 0  # staging.reference_versions when read: the cache reloads when it moves


def load_reference_sets(conn: psycopg.Connection) -> Reference:
    version = reference_version(conn)  # first: a bump while reading makes the next check reload again

    def codes(query: str) -> frozenset[str]:
        return frozenset(row[0] for row in conn.execute(query))

    rvu = {
        code: (Decimal(w) + Decimal(pe) + Decimal(mp)) * Decimal(cf)
        for code, w, pe, mp, cf in conn.execute(
            "SELECT procedure_code, work_rvu, pe_rvu, mp_rvu, conversion_factor FROM staging.rvu_values"
        )
    }
    return Reference(
        facilities=codes("SELECT facility_id FROM staging.facilities WHERE active"),
        payers=codes("SELECT payer_id FROM staging.payers WHERE active"),
        financial_classes=codes("SELECT code FROM staging.financial_classes WHERE active"),
        rvu_per_unit=rvu,
        edits=load_edit_tables(conn),
        version=version,
    )
