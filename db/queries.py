"""Read-side queries for operators (the API and the CLI): batches, the fleet's in-flight work, failed claims.

Functions take an open connection and keyword-only filters, and return plain values; no PHI is decrypted
here (failed_claim returns the ciphertext; the caller decides who may see what).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg

from db.batches import BatchProgress

# BatchProgress's fields are staging.batches' column names: follow them rather than repeat them.
_BATCH_COLUMNS = ", ".join(f.name for f in fields(BatchProgress))
ACTIVE_BATCH_STATES = ("dispatching", "running")


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int


def list_batches(conn: psycopg.Connection, *, page: int, page_size: int, status: str | None = None) -> Page:
    """Newest first. `page` counts from 1."""
    where, params = ("WHERE status = %s", [status]) if status else ("", [])
    total_row = conn.execute(f"SELECT count(*) FROM staging.batches {where}", params).fetchone()  # nosec B608 # WHERE is assembled from fixed fragments; every value is a bound parameter
    rows = conn.execute(
        f"SELECT {_BATCH_COLUMNS} FROM staging.batches {where}"  # nosec B608 # WHERE is assembled from fixed fragments; every value is a bound parameter
        " ORDER BY created_at DESC, batch_id DESC LIMIT %s OFFSET %s",
        [*params, page_size, (page - 1) * page_size],
    ).fetchall()
    return Page([BatchProgress(*r) for r in rows], int(total_row[0]) if total_row else 0)


async def batch_progress(conn: psycopg.AsyncConnection, batch_id: str) -> BatchProgress | None:
    """db.batches.get_batch for the API's event loop: /batch_status is polled, and must stay fast."""
    cur = await conn.execute(f"SELECT {_BATCH_COLUMNS} FROM staging.batches WHERE batch_id = %s", (batch_id,))  # nosec B608 # WHERE is assembled from fixed fragments; every value is a bound parameter
    row = await cur.fetchone()
    return BatchProgress(*row) if row else None


@dataclass(frozen=True)
class InFlight:
    batches: int
    claims: int
    last_batch_id: str | None
    last_dispatch_at: datetime | None


def in_flight(conn: psycopg.Connection) -> InFlight:
    """Work handed out and not finished, from the batch counters (exact: they move with the ledger)."""
    row = conn.execute(
        """
        SELECT count(*) FILTER (WHERE status = ANY(%(active)s)),
               coalesce(sum(greatest(total - done - failed - review - resolved, 0))
                        FILTER (WHERE status = ANY(%(active)s)), 0),
               (SELECT batch_id FROM staging.batches ORDER BY created_at DESC, batch_id DESC LIMIT 1),
               max(coalesce(dispatched_at, created_at))
        FROM staging.batches
        """,
        {"active": list(ACTIVE_BATCH_STATES)},
    ).fetchone()
    assert row is not None
    return InFlight(int(row[0]), int(row[1]), row[2], row[3])


@dataclass(frozen=True)
class FailedClaimFilter:
    category: str | None = None
    status: str | None = None
    facility_id: str | None = None
    batch_id: str | None = None
    # Inclusive calendar days of created_at (UTC).
    since: date | None = None
    until: date | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses: list[str] = []
        params: dict[str, Any] = {}
        for column, key in (
            ("failure_category", "category"),
            ("status", "status"),
            ("facility_id", "facility_id"),
            ("batch_id", "batch_id"),
        ):
            value = getattr(self, key)
            if value is not None:
                clauses.append(f"{column} = %({key})s")
                params[key] = value
        if self.since is not None:
            clauses.append("created_at >= (%(since)s::date)::timestamp AT TIME ZONE 'UTC'")
            params["since"] = self.since
        if self.until is not None:
            # The day after `until`, computed by PostgreSQL: no overflow at date.max.
            clauses.append("created_at < (%(until)s::date + 1)::timestamp AT TIME ZONE 'UTC'")
            params["until"] = self.until
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


@dataclass(frozen=True)
class FailedClaimRow:
    id: int
    claim_id: str
    batch_id: str
    facility_id: str | None
    failure_category: str
    rule_codes: list[str]
    priority: int
    status: str
    attempts: int
    assigned_to: str | None
    potential_revenue: Decimal | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class FailedClaimDetail(FailedClaimRow):
    resolution: str | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    encrypted_payload: bytes = b""


_FAILED_COLUMNS = (
    "id, claim_id, batch_id, facility_id, failure_category, rule_codes, priority, status, attempts,"
    " assigned_to, potential_revenue, created_at, updated_at"
)


def list_failed_claims(conn: psycopg.Connection, *, filters: FailedClaimFilter, page: int, page_size: int) -> Page:
    """Newest first. `page` counts from 1."""
    where, params = filters.where()
    total_row = conn.execute(f"SELECT count(*) FROM failed_claims {where}", params).fetchone()  # nosec B608 # WHERE is assembled from fixed fragments; every value is a bound parameter
    rows = conn.execute(
        f"SELECT {_FAILED_COLUMNS} FROM failed_claims {where} ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s",  # nosec B608 # WHERE is assembled from fixed fragments; every value is a bound parameter
        {**params, "limit": page_size, "offset": (page - 1) * page_size},
    ).fetchall()
    return Page([FailedClaimRow(*r) for r in rows], int(total_row[0]) if total_row else 0)


def failed_claim(conn: psycopg.Connection, failed_claim_id: int) -> FailedClaimDetail | None:
    row = conn.execute(
        f"SELECT {_FAILED_COLUMNS}, resolution, failures, encrypted_payload FROM failed_claims WHERE id = %s",  # nosec B608 # WHERE is assembled from fixed fragments; every value is a bound parameter
        (failed_claim_id,),
    ).fetchone()
    if row is None:
        return None
    *head, resolution, failures, payload = row
    return FailedClaimDetail(
        *head, resolution=resolution, failures=list(failures or []), encrypted_payload=bytes(payload)
    )


def failed_claim_counts(conn: psycopg.Connection) -> dict[tuple[str, str], int]:
    """(category, status) -> failed claims: the review backlog, for /metrics."""
    rows = conn.execute("SELECT failure_category, status, count(*) FROM failed_claims GROUP BY 1, 2").fetchall()
    return {(r[0], r[1]): int(r[2]) for r in rows}


def dead_letter_counts(conn: psycopg.Connection) -> dict[str, int] | None:
    """status -> dead-lettered chunks, or None where the dead-letter table does not exist (yet)."""
    exists = conn.execute("SELECT to_regclass('staging.dead_letters') IS NOT NULL").fetchone()
    if not (exists and exists[0]):
        return None
    rows = conn.execute("SELECT status, count(*) FROM staging.dead_letters GROUP BY 1").fetchall()
    return {r[0]: int(r[1]) for r in rows}
