"""Retention's statements: what may go, and taking it away, in both databases.

What is eligible, and why the ledger (db/ledger.py) still adds up afterwards:
- failed claims *closed* (repaired, resolved, voided) before the cut-off lose their encrypted payload (the
  PHI); the row stays — claim id, rule codes, status, audit — so reconcile still finds the closed failure
  behind a `resolved` claim. Open failures are never touched: their payload is the only copy still to work.
- staging claims in a final state (done, resolved) last changed before the cut-off leave staging with their
  lines and diagnoses; a staging.retired_claims row keeps id, state, batch and line/diagnosis counts, and
  reconcile reads those rows as it reads claims.
- dead letters resolved or purged, and change-capture rows, past their cut-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg

from db.models import CLOSED_FAILED

FINAL_STAGING_STATES = ("done", "resolved")
FINISHED_DEAD_LETTERS = ("resolved", "purged")

_FAILED_PHI_WHERE = (
    "status = ANY(%(closed)s) AND phi_purged_at IS NULL AND coalesce(resolved_at, updated_at) < %(cutoff)s"
)


def count_failed_phi(conn: psycopg.Connection, cutoff: datetime) -> int:
    row = conn.execute(
        f"SELECT count(*) FROM failed_claims WHERE {_FAILED_PHI_WHERE}",  # nosec B608 # predicates and table names are this module's constants; values bound
        {"closed": list(CLOSED_FAILED), "cutoff": cutoff},
    ).fetchone()
    return int(row[0]) if row else 0


def failed_phi_batch(conn: psycopg.Connection, cutoff: datetime, limit: int) -> list[tuple[int, str, bytes]]:
    """(id, claim_id, encrypted payload) of the next eligible failed claims, locked for this transaction."""
    rows = conn.execute(
        f"SELECT id, claim_id, encrypted_payload FROM failed_claims WHERE {_FAILED_PHI_WHERE}"  # nosec B608 # predicates and table names are this module's constants; values bound
        " ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED",
        {"closed": list(CLOSED_FAILED), "cutoff": cutoff, "limit": limit},
    ).fetchall()
    return [(int(i), cid, bytes(payload)) for i, cid, payload in rows]


def purge_failed_phi(conn: psycopg.Connection, ids: Sequence[int]) -> int:
    return conn.execute(
        "UPDATE failed_claims SET encrypted_payload = ''::bytea, phi_purged_at = now(), updated_at = now()"
        " WHERE id = ANY(%s) AND status = ANY(%s) AND phi_purged_at IS NULL",
        (list(ids), list(CLOSED_FAILED)),
    ).rowcount


_RETIRABLE = "status = ANY(%(final)s) AND updated_at < %(cutoff)s"


def count_retirable(conn: psycopg.Connection, cutoff: datetime) -> int:
    row = conn.execute(
        f"SELECT count(*) FROM staging.claims WHERE {_RETIRABLE}",  # nosec B608 # predicates and table names are this module's constants; values bound
        {"final": list(FINAL_STAGING_STATES), "cutoff": cutoff},
    ).fetchone()
    return int(row[0]) if row else 0


def pick_retirable(conn: psycopg.Connection, cutoff: datetime, limit: int) -> list[str]:
    """The next claims to retire, locked for this transaction (a concurrent repair or void waits, or is
    skipped here)."""
    rows = conn.execute(
        f"SELECT claim_id FROM staging.claims WHERE {_RETIRABLE} ORDER BY claim_id LIMIT %(limit)s"  # nosec B608 # predicates and table names are this module's constants; values bound
        " FOR UPDATE SKIP LOCKED",
        {"final": list(FINAL_STAGING_STATES), "cutoff": cutoff, "limit": limit},
    ).fetchall()
    return [r[0] for r in rows]


def retire(conn: psycopg.Connection, claim_ids: Sequence[str], run_id: int) -> int:
    """Tombstones first, then the rows, in the caller's transaction."""
    ids = list(claim_ids)
    conn.execute(
        """
        INSERT INTO staging.retired_claims (claim_id, status, batch_id, lines, diagnoses, retention_run)
        SELECT c.claim_id, c.status, c.batch_id,
               (SELECT count(*) FROM staging.claim_lines l WHERE l.claim_id = c.claim_id),
               (SELECT count(*) FROM staging.claim_diagnoses d WHERE d.claim_id = c.claim_id), %s
        FROM staging.claims c WHERE c.claim_id = ANY(%s)
        """,
        (run_id, ids),
    )
    for table in ("claim_lines", "claim_diagnoses", "seed_defects"):
        conn.execute(f"DELETE FROM staging.{table} WHERE claim_id = ANY(%s)", (ids,))  # nosec B608 # predicates and table names are this module's constants; values bound
    return conn.execute("DELETE FROM staging.claims WHERE claim_id = ANY(%s)", (ids,)).rowcount


def count_dead_letters(conn: psycopg.Connection, cutoff: datetime) -> int:
    row = conn.execute(
        "SELECT count(*) FROM staging.dead_letters WHERE status = ANY(%s) AND last_seen < %s",
        (list(FINISHED_DEAD_LETTERS), cutoff),
    ).fetchone()
    return int(row[0]) if row else 0


def delete_dead_letters(conn: psycopg.Connection, cutoff: datetime) -> int:
    return conn.execute(
        "DELETE FROM staging.dead_letters WHERE status = ANY(%s) AND last_seen < %s",
        (list(FINISHED_DEAD_LETTERS), cutoff),
    ).rowcount


def count_change_log(conn: psycopg.Connection, cutoff: datetime) -> int:
    row = conn.execute("SELECT count(*) FROM change_log WHERE changed_at < %s", (cutoff,)).fetchone()
    return int(row[0]) if row else 0


def delete_change_log(conn: psycopg.Connection, cutoff: datetime) -> int:
    return conn.execute("DELETE FROM change_log WHERE changed_at < %s", (cutoff,)).rowcount


def open_run(conn: psycopg.Connection, actor: str, dry_run: bool, cutoffs: dict[str, str]) -> int:
    from psycopg.types.json import Jsonb

    row = conn.execute(
        "INSERT INTO retention_runs (actor, dry_run, cutoffs, counts) VALUES (%s, %s, %s, '{}') RETURNING id",
        (actor, dry_run, Jsonb(cutoffs)),
    ).fetchone()
    assert row is not None
    return int(row[0])


def close_run(conn: psycopg.Connection, run_id: int, counts: dict[str, int], archive: str | None) -> None:
    from psycopg.types.json import Jsonb

    conn.execute(
        "UPDATE retention_runs SET finished_at = now(), counts = %s, archive = %s WHERE id = %s",
        (Jsonb(counts), archive, run_id),
    )
