"""Change data capture: reading production.change_log (filled by the triggers of p0006) in a resumable order.

The log holds which row changed (table, operation, key), not its values: serialising every row in the
pipeline's write transaction cost a third of the write stage. The reader attaches each row's state as it
reads it. So an event carries the row as it is *now* (null once deleted): a consumer that upserts rows by
key and deletes on null converges on production exactly; versions in between are not replayed (amended
claims keep theirs in claim_history).

Why (xid, id) and not id alone: ids come from a sequence when a row is written, but transactions commit in
another order, so a reader at id 100 could later see id 99 appear and skip it forever. Instead changes
are read in (transaction id, id) order and only below the snapshot's xmin — the oldest transaction still
running — where no transaction can add a row any more. A position is the last (xid, id) read; every change
after it, and none before, is read next time. The price: a long-running transaction anywhere in the
cluster holds the stream back (never loses anything). logical decoding would need wal_level=logical.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import psycopg

CHANNEL = "claims_cdc"


@dataclass(frozen=True, order=True)
class Position:
    xid: int
    id: int

    START: ClassVar[Position]

    @classmethod
    def parse(cls, text: str) -> Position:
        match = re.fullmatch(r"(\d+):(\d+)", text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a position (XID:ID, as `claims-tasks cdc` prints it)")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.xid}:{self.id}"


Position.START = Position(0, 0)


@dataclass(frozen=True)
class Change:
    position: Position
    changed_at: datetime
    table: str
    op: str
    claim_id: str | None
    row: dict[str, Any] | None


def read_changes(conn: psycopg.Connection, after: Position, limit: int = 1000) -> list[Change]:
    """The next changes after `after` that are final (their transaction and all older ones are over), each
    with its row as it stands now (None once deleted; a failed claim's payload never)."""
    rows = conn.execute(
        """
        SELECT l.xid, l.id, l.changed_at, l.table_name, l.op, l.claim_id,
               CASE l.table_name
                   WHEN 'claims' THEN (SELECT to_jsonb(c) FROM claims c WHERE c.claim_id = l.claim_id)
                   WHEN 'failed_claims' THEN (SELECT to_jsonb(f) - 'encrypted_payload' FROM failed_claims f
                                              WHERE f.id = l.row_id)
               END
        FROM change_log l
        WHERE (l.xid, l.id) > (%s, %s) AND l.xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
        ORDER BY l.xid, l.id
        LIMIT %s
        """,
        (after.xid, after.id, limit),
    ).fetchall()
    return [Change(Position(x, i), at, table, op, cid, row) for x, i, at, table, op, cid, row in rows]
