"""Reads and status writes against the staging database: a chunk in three COPYs, one UPDATE for outcomes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import psycopg

from claims_tasks.records import CLAIM_FIELDS, DIAGNOSIS_FIELDS, LINE_FIELDS, Claim, Diagnosis, Line
from db import batches

_CLAIM_TYPES = [
    "text", "text", "text", "text", "text", "date", "text", "text", "text", "text", "text", "text",
    "text", "text", "date", "date", "numeric", "text", "timestamptz",
]  # fmt: skip
_LINE_TYPES = ["text", "int2", "text", "text[]", "numeric", "numeric", "date", "text", "int2[]"]
_DIAGNOSIS_TYPES = ["text", "int2", "text"]


def _copy_rows(
    conn: psycopg.Connection, query: str, params: Sequence[object], types: list[str]
) -> Iterable[tuple]:
    with conn.cursor().copy(query, params) as copy:
        copy.set_types(types)
        yield from copy.rows()


def load_chunk(conn: psycopg.Connection, batch_id: str, claim_ids: Sequence[str]) -> list[Claim]:
    """The chunk's claims that are still `queued` for this batch, with their lines and diagnoses.

    Claims another delivery already finished (or that were re-dispatched to another batch) are left out,
    which is what makes a redelivered message harmless.
    """
    claim_rows = list(
        _copy_rows(
            conn,
            f"COPY (SELECT {', '.join(CLAIM_FIELDS)} FROM staging.claims"
            " WHERE claim_id = ANY(%s) AND status = 'queued' AND batch_id = %s) TO STDOUT",
            (list(claim_ids), batch_id),
            _CLAIM_TYPES,
        )
    )
    if not claim_rows:
        return []
    ids = [row[0] for row in claim_rows]
    lines: dict[str, list[Line]] = defaultdict(list)
    for cid, num, code, mods, units, charge, sdate, pos, ptrs in _copy_rows(
        conn,
        f"COPY (SELECT {', '.join(LINE_FIELDS)} FROM staging.claim_lines"
        " WHERE claim_id = ANY(%s) ORDER BY claim_id, line_number) TO STDOUT",
        (ids,),
        _LINE_TYPES,
    ):
        lines[cid].append(Line(num, code, tuple(mods or ()), units, charge, sdate, pos, tuple(ptrs or ())))
    diagnoses: dict[str, list[Diagnosis]] = defaultdict(list)
    for cid, seq, code in _copy_rows(
        conn,
        f"COPY (SELECT {', '.join(DIAGNOSIS_FIELDS)} FROM staging.claim_diagnoses"
        " WHERE claim_id = ANY(%s) ORDER BY claim_id, sequence) TO STDOUT",
        (ids,),
        _DIAGNOSIS_TYPES,
    ):
        diagnoses[cid].append(Diagnosis(seq, code))
    return [
        Claim(*row, lines=tuple(lines.get(row[0], ())), diagnoses=tuple(diagnoses.get(row[0], ())))
        for row in claim_rows
    ]


def mark_outcomes(conn: psycopg.Connection, batch_id: str, outcomes: Mapping[str, str]) -> dict[str, int]:
    """Move claims from `queued` to their outcome (done/failed/review) in one statement, and advance the
    batch by what actually changed, in the same transaction. Returns the flipped counts per status."""
    if not outcomes:
        return {}
    flipped = dict(
        conn.execute(
            """
            WITH flipped AS (
                UPDATE staging.claims c SET status = o.status, updated_at = now()
                FROM unnest(%s::text[], %s::text[]) AS o(claim_id, status)
                WHERE c.claim_id = o.claim_id AND c.status = 'queued' AND c.batch_id = %s
                RETURNING c.status
            )
            SELECT status, count(*) FROM flipped GROUP BY status
            """,
            (list(outcomes), list(outcomes.values()), batch_id),
        ).fetchall()
    )
    batches.advance_batch(conn, batch_id, flipped)
    return flipped


@dataclass(frozen=True)
class Reference:
    """Reference data a worker caches: the active code sets rules check and the RVU price table."""

    facilities: frozenset[str]
    payers: frozenset[str]
    financial_classes: frozenset[str]
    rvu_per_unit: Mapping[str, Decimal]


def load_reference_sets(conn: psycopg.Connection) -> Reference:
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
    )
