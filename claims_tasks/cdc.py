"""`claims-tasks cdc`: production row changes as JSON lines, resumable from a position (db/cdc.py).

Delivery is at least once: a line is written and flushed before the position that follows it is saved
(--state), so a consumer that dies may see the last lines again, never miss one. Patient identifiers in
claims rows are masked unless asked for (HIPAA minimum necessary: docs/HIPAA_COMPLIANCE.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

import psycopg

from api.phi import MASK, PHI_FIELDS
from db import engines
from db.cdc import CHANNEL, Change, Position, read_changes

POLL_SECONDS = 1.0
BATCH = 1000


def to_line(change: Change, include_phi: bool) -> str:
    row = change.row
    if row is not None and not include_phi:
        row = {k: (MASK if k in PHI_FIELDS and v is not None else v) for k, v in row.items()}
    doc: dict[str, Any] = {
        "position": str(change.position),
        "at": change.changed_at.isoformat(),
        "table": change.table,
        "op": change.op,
        "claim_id": change.claim_id,
        "row": row,
    }
    return json.dumps(doc, separators=(",", ":"), default=str)


def _save(state_file: Path, position: Position) -> None:
    tmp = state_file.with_suffix(state_file.suffix + ".tmp")
    tmp.write_text(f"{position}\n")
    os.replace(tmp, state_file)  # atomic: a crash leaves the old position or the new, never half


def stream(
    dsn: str,
    start: Position,
    out: IO[str],
    *,
    follow: bool = False,
    limit: int | None = None,
    include_phi: bool = False,
    state_file: Path | None = None,
) -> Position:
    """Write changes after `start`; without `follow`, stop when caught up. Returns the last position."""
    position, sent = start, 0
    with engines.connection(dsn, "production", autocommit=True) as conn:
        if follow:
            conn.execute(f"LISTEN {CHANNEL}")
        while True:
            batch = read_changes(conn, position, BATCH if limit is None else min(BATCH, limit - sent))
            for change in batch:
                out.write(to_line(change, include_phi) + "\n")
            if batch:
                out.flush()
                position = batch[-1].position
                sent += len(batch)
                if state_file is not None:
                    _save(state_file, position)
            if limit is not None and sent >= limit:
                return position
            if not batch:
                if not follow:
                    return position
                _wait(conn)


def _wait(conn: psycopg.Connection) -> None:
    """Until a NOTIFY (a change committed) or the poll interval (a change may have become final because an
    older transaction ended, which notifies nobody)."""
    for _ in conn.notifies(timeout=POLL_SECONDS, stop_after=1):
        pass
