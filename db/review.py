"""failed_claims as a work queue: reads for repair and review, state changes with an audit row for each.

Every change of a failed claim goes through `transition`, which updates the row and writes the
review_actions audit row (who, when, what, workflow state before/after) in the caller's transaction.
Claim values never enter the audit: they stay in the encrypted payloads and in production.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from claims_tasks.errors import ClaimsError
from db.models import OPEN_FAILED


@dataclass(frozen=True)
class FailedClaim:
    id: int
    claim_id: str
    batch_id: str
    facility_id: str | None
    failure_category: str
    rule_codes: list[str]
    failures: list[dict[str, str]]
    encrypted_payload: bytes
    priority: int
    status: str
    attempts: int
    assigned_to: str | None
    resolution: str | None
    potential_revenue: Decimal | None
    repairs: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None

    def state(self) -> dict[str, Any]:
        """The workflow fields an audit row records."""
        return {"status": self.status, "assigned_to": self.assigned_to, "resolution": self.resolution}


_COLUMNS = (
    "id, claim_id, batch_id, facility_id, failure_category, rule_codes, failures, encrypted_payload, priority,"
    " status, attempts, assigned_to, resolution, potential_revenue, repairs, created_at, updated_at, resolved_at"
)


def _row(row: tuple) -> FailedClaim:
    values = list(row)
    values[7] = bytes(values[7])
    return FailedClaim(*values)


def open_failure(conn: psycopg.Connection, claim_id: str, *, lock: bool = False) -> FailedClaim:
    """The claim's open failure, or a ClaimsError naming the claim."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM failed_claims WHERE claim_id = %s AND status = ANY(%s)"  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
        + (" FOR UPDATE" if lock else ""),
        (claim_id, list(OPEN_FAILED)),
    ).fetchone()
    if row is None:
        raise ClaimsError(f"claim {claim_id} has no open failure (it may be resolved or never have failed)")
    return _row(row)


def latest_failure(conn: psycopg.Connection, claim_id: str) -> FailedClaim:
    """The claim's open failure if it has one, else its most recent closed one."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM failed_claims WHERE claim_id = %s ORDER BY (status = ANY(%s)) DESC, id DESC LIMIT 1",  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
        (claim_id, list(OPEN_FAILED)),
    ).fetchone()
    if row is None:
        raise ClaimsError(f"claim {claim_id} never failed")
    return _row(row)


def by_status(conn: psycopg.Connection, claim_ids: Sequence[str], statuses: Sequence[str]) -> list[FailedClaim]:
    """Failures of these claims in these statuses, locked for the caller's transaction."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM failed_claims WHERE claim_id = ANY(%s) AND status = ANY(%s)"  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
        " ORDER BY claim_id FOR UPDATE SKIP LOCKED",
        (list(claim_ids), list(statuses)),
    ).fetchall()
    return [_row(r) for r in rows]


def transition(
    conn: psycopg.Connection,
    failed: FailedClaim,
    actor: str,
    action: str,
    *,
    notes: str | None = None,
    extra: dict[str, Any] | None = None,
    **changes: Any,
) -> None:
    """Apply `changes` (status, assigned_to, resolution, repairs, attempts, ...) and audit them."""
    after = {
        **failed.state(),
        **{k: v for k, v in changes.items() if k in ("status", "assigned_to", "resolution")},
    }
    sets = [f"{name} = %({name})s" for name in changes]
    params: dict[str, Any] = {k: Jsonb(v) if k == "repairs" else v for k, v in changes.items()}
    if changes.get("status") in ("repaired", "resolved", "voided"):
        sets.append("resolved_at = now()")
    sets.append("updated_at = now()")
    params["id"] = failed.id
    conn.execute(f"UPDATE failed_claims SET {', '.join(sets)} WHERE id = %(id)s", params)  # nosec B608 # column names are transition()'s keyword names, chosen by code; values bound
    conn.execute(
        "INSERT INTO review_actions (failed_claim_id, claim_id, actor, action, notes, before, after)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            failed.id,
            failed.claim_id,
            actor,
            action,
            notes,
            Jsonb(failed.state()),
            Jsonb({**after, **(extra or {})}),
        ),
    )


def stale_retrying(conn: psycopg.Connection, older_than_s: int, limit: int = 10_000) -> list[tuple[str, int]]:
    """(claim_id, priority) of repairs queued long ago and never done: their message was lost."""
    return [
        (cid, prio)
        for cid, prio in conn.execute(
            "SELECT claim_id, priority FROM failed_claims WHERE status = 'retrying'"
            " AND updated_at < now() - make_interval(secs => %s) ORDER BY priority, claim_id LIMIT %s",
            (older_than_s, limit),
        )
    ]


def recently_repaired(conn: psycopg.Connection, older_than_s: int, limit: int = 10_000) -> list[tuple[str, int]]:
    """(claim_id, priority) of repairs written to production between a day and older_than_s ago: a worker
    killed between that write and the staging flip leaves the ledger `failed` (the sweep checks staging)."""
    return [
        (cid, prio)
        for cid, prio in conn.execute(
            "SELECT claim_id, priority FROM failed_claims WHERE status = 'repaired'"
            " AND updated_at < now() - make_interval(secs => %s) AND updated_at > now() - interval '1 day'"
            " ORDER BY priority, claim_id LIMIT %s",
            (older_than_s, limit),
        )
    ]


def touch(conn: psycopg.Connection, claim_ids: Sequence[str]) -> None:
    conn.execute("UPDATE failed_claims SET updated_at = now() WHERE claim_id = ANY(%s) AND status = 'retrying'",
                 (list(claim_ids),))  # fmt: skip


def list_failed(
    conn: psycopg.Connection,
    *,
    status: str | None = None,
    category: str | None = None,
    facility_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[FailedClaim]:
    where = ["TRUE"]
    params: list[Any] = []
    for column, value in (("status", status), ("failure_category", category), ("facility_id", facility_id)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM failed_claims WHERE {' AND '.join(where)}"  # nosec B608 # WHERE is assembled from fixed fragments; every value is a bound parameter
        " ORDER BY priority, created_at, id LIMIT %s OFFSET %s",
        (*params, limit, offset),
    ).fetchall()
    return [_row(r) for r in rows]


def actions(conn: psycopg.Connection, claim_id: str) -> list[dict[str, Any]]:
    cur = conn.execute(
        "SELECT id, actor, action, notes, before, after, created_at FROM review_actions"
        " WHERE claim_id = %s ORDER BY id",
        (claim_id,),
    )
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur]


def resolution_stats(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Per failure category: how many failed, how many closed, the rate, and hours to close (mean, p50)."""
    cur = conn.execute(
        """
        SELECT failure_category,
               count(*) AS failed,
               count(*) FILTER (WHERE resolved_at IS NOT NULL) AS closed,
               count(*) FILTER (WHERE status = 'repaired') AS repaired,
               count(*) FILTER (WHERE status = 'resolved') AS resolved,
               count(*) FILTER (WHERE status = 'voided') AS voided,
               round(avg(extract(epoch FROM resolved_at - created_at)) / 3600, 3) AS mean_hours,
               round((percentile_cont(0.5) WITHIN GROUP
                      (ORDER BY extract(epoch FROM resolved_at - created_at)) / 3600)::numeric, 3) AS p50_hours
        FROM failed_claims GROUP BY failure_category ORDER BY failure_category
        """
    )
    names = [d.name for d in cur.description or ()]
    out = []
    for row in cur:
        doc = dict(zip(names, row, strict=True))
        doc["resolution_rate"] = round(doc["closed"] / doc["failed"], 4) if doc["failed"] else 0.0
        out.append(doc)
    return out
