"""The audit trail of protected health information shown through the API (production.phi_reads).

The row is written before the data leaves the server, in its own statement: if it cannot be written, the
request fails and nothing is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True)
class PhiRead:
    id: int
    read_at: datetime
    api_key_id: int
    key_name: str
    role: str
    failed_claim_id: int | None
    claim_id: str
    action: str
    disclosed: bool
    fields: list[str]
    correlation_id: str | None


_COLUMNS = (
    "id, read_at, api_key_id, key_name, role, failed_claim_id, claim_id, action, disclosed, fields, correlation_id"
)


def record_read(
    conn: psycopg.Connection,
    *,
    api_key_id: int,
    key_name: str,
    role: str,
    claim_id: str,
    failed_claim_id: int | None,
    action: str,
    disclosed: bool,
    fields: Sequence[str],
    correlation_id: str | None,
) -> int:
    row = conn.execute(
        "INSERT INTO phi_reads (api_key_id, key_name, role, failed_claim_id, claim_id, action, disclosed,"
        " fields, correlation_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (api_key_id, key_name, role, failed_claim_id, claim_id, action, disclosed, list(fields),
         correlation_id),
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def reads_of(conn: psycopg.Connection, claim_id: str) -> list[PhiRead]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM phi_reads WHERE claim_id = %s ORDER BY id", (claim_id,)).fetchall()  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
    return [PhiRead(*r) for r in rows]
