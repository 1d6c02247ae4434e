"""Versions of production claims: a replacement (frequency 7) or a void (8) keeps the old version as history."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from claims_tasks.errors import ClaimsError
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


@dataclass(frozen=True)
class ProductionClaim:
    claim: Claim
    version: int
    status: str
    batch_id: str


def load_claim(conn: psycopg.Connection, claim_id: str, *, lock: bool = False) -> ProductionClaim:
    row = conn.execute(
        f"SELECT {', '.join(CLAIM_FIELDS)}, version, status, batch_id FROM claims WHERE claim_id = %s"  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
        + (" FOR UPDATE" if lock else ""),
        (claim_id,),
    ).fetchone()
    if row is None:
        raise ClaimsError(f"claim {claim_id} is not in production")
    lines = tuple(
        Line(num, code, tuple(mods or ()), units, charge, sdate, pos, tuple(ptrs or ()), revenue)
        for _cid, num, code, mods, units, charge, sdate, pos, ptrs, revenue in conn.execute(
            f"SELECT {', '.join(LINE_FIELDS)} FROM claim_lines WHERE claim_id = %s ORDER BY line_number",  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
            (claim_id,),
        )
    )
    diagnoses = tuple(
        Diagnosis(seq, code)
        for _cid, seq, code in conn.execute(
            f"SELECT {', '.join(DIAGNOSIS_FIELDS)} FROM claim_diagnoses WHERE claim_id = %s ORDER BY sequence",  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
            (claim_id,),
        )
    )
    n = len(CLAIM_FIELDS)
    claim = Claim(*row[:n], lines=lines, diagnoses=diagnoses)
    return ProductionClaim(claim, row[n], row[n + 1], row[n + 2])


def _keep_history(conn: psycopg.Connection, current: ProductionClaim, reason: str, actor: str) -> None:
    conn.execute(
        """
        INSERT INTO claim_history (claim_id, version, reason, claim, lines, diagnoses, actor)
        SELECT c.claim_id, c.version, %s, to_jsonb(c),
               COALESCE((SELECT jsonb_agg(to_jsonb(l) ORDER BY l.line_number)
                         FROM claim_lines l WHERE l.claim_id = c.claim_id), '[]'),
               COALESCE((SELECT jsonb_agg(to_jsonb(d) ORDER BY d.sequence)
                         FROM claim_diagnoses d WHERE d.claim_id = c.claim_id), '[]'),
               %s
        FROM claims c WHERE c.claim_id = %s
        """,
        (reason, actor, current.claim.claim_id),
    )


def replace_claim(conn: psycopg.Connection, current: ProductionClaim, new: Claim, actor: str) -> int:
    """Frequency 7: the corrected claim becomes the current version; returns the new version number."""
    if current.status != "active":
        raise ClaimsError(f"claim {new.claim_id} is {current.status}; only an active claim can be replaced")
    _keep_history(conn, current, "replaced", actor)
    fields = [f for f in CLAIM_FIELDS if f != "claim_id"]
    conn.execute(
        f"UPDATE claims SET {', '.join(f'{f} = %s' for f in fields)}, version = version + 1, amended_at = now()"  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
        " WHERE claim_id = %s",
        (*(getattr(new, f) for f in fields), new.claim_id),
    )
    conn.execute("DELETE FROM claim_lines WHERE claim_id = %s", (new.claim_id,))
    conn.execute("DELETE FROM claim_diagnoses WHERE claim_id = %s", (new.claim_id,))
    cur = conn.cursor()
    cur.executemany(
        f"INSERT INTO claim_lines ({', '.join(LINE_FIELDS)}) VALUES ({', '.join(['%s'] * len(LINE_FIELDS))})",  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
        line_rows(new),
    )
    cur.executemany("INSERT INTO claim_diagnoses (claim_id, sequence, icd10_code) VALUES (%s, %s, %s)",
                    diagnosis_rows(new))  # fmt: skip
    return current.version + 1


def void_claim(conn: psycopg.Connection, current: ProductionClaim, actor: str) -> int:
    """Frequency 8: the claim stays, marked voided, its last active version kept in history."""
    if current.status != "active":
        raise ClaimsError(f"claim {current.claim.claim_id} is already {current.status}")
    _keep_history(conn, current, "voided", actor)
    conn.execute(
        "UPDATE claims SET status = 'voided', claim_frequency = '8', version = version + 1, amended_at = now()"
        " WHERE claim_id = %s",
        (current.claim.claim_id,),
    )
    return current.version + 1


def history(conn: psycopg.Connection, claim_id: str) -> list[dict[str, object]]:
    cur = conn.execute(
        "SELECT version, reason, actor, superseded_at, claim, lines, diagnoses FROM claim_history"
        " WHERE claim_id = %s ORDER BY version",
        (claim_id,),
    )
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur]


def audit(conn: psycopg.Connection, claim_id: str, actor: str, action: str, before: dict, after: dict,
          notes: str | None = None) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO review_actions (claim_id, actor, action, notes, before, after) VALUES (%s, %s, %s, %s, %s, %s)",
        (claim_id, actor, action, notes, Jsonb(before), Jsonb(after)),
    )
