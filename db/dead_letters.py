"""Dead letters: chunks the fleet gave up on, kept in staging (reachable while production is the outage)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from claims_tasks.errors import ClaimsError


@dataclass(frozen=True)
class DeadLetter:
    id: int
    task_name: str
    args: list[Any]
    queue: str
    batch_id: str | None
    exception: str
    traceback: str | None
    attempts: int
    replays: int
    status: str
    first_seen: datetime
    last_seen: datetime
    last_replayed_at: datetime | None


_COLUMNS = (
    "id, task_name, args, queue, batch_id, exception, traceback, attempts, replays, status, first_seen,"
    " last_seen, last_replayed_at"
)


def digest(task_name: str, args: list[Any]) -> str:
    return hashlib.sha256(json.dumps([task_name, args], sort_keys=True).encode()).hexdigest()


def record(
    conn: psycopg.Connection,
    *,
    task_name: str,
    args: list[Any],
    queue: str,
    batch_id: str | None,
    exception: str,
    traceback: str | None,
    attempts: int,
) -> int:
    """Insert, or — when the same task and arguments died before — count the attempts and mark it dead
    again. A purged letter that dies again comes back: purging is not a way to lose claims."""
    row = conn.execute(
        """
        INSERT INTO staging.dead_letters (task_name, args, args_digest, queue, batch_id, exception, traceback,
                                          attempts)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (args_digest) DO UPDATE SET
            attempts = staging.dead_letters.attempts + EXCLUDED.attempts,
            exception = EXCLUDED.exception, traceback = EXCLUDED.traceback,
            status = 'dead', last_seen = now()
        RETURNING id
        """,
        (task_name, Jsonb(args), digest(task_name, args), queue, batch_id, exception, traceback, attempts),
    ).fetchone()
    assert row is not None
    return int(row[0])


def get(conn: psycopg.Connection, letter_id: int) -> DeadLetter:
    row = conn.execute(f"SELECT {_COLUMNS} FROM staging.dead_letters WHERE id = %s", (letter_id,)).fetchone()  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
    if row is None:
        raise ClaimsError(f"no dead letter {letter_id}")
    return DeadLetter(*row)


def listing(conn: psycopg.Connection, status: str | None = None, limit: int = 100) -> list[DeadLetter]:
    where, params = ("WHERE status = %s", [status]) if status else ("WHERE status <> 'purged'", [])
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM staging.dead_letters {where} ORDER BY id LIMIT %s",  # nosec B608 # WHERE is one of two fixed fragments; values bound
        (*params, limit),
    ).fetchall()
    return [DeadLetter(*r) for r in rows]


def due_for_replay(conn: psycopg.Connection, max_replays: int, backoff_s: float) -> list[DeadLetter]:
    """Dead letters whose next replay is due: fewer than max_replays so far, backing off exponentially."""
    rows = conn.execute(
        f"""
        SELECT {_COLUMNS} FROM staging.dead_letters
        WHERE status = 'dead' AND replays < %s
          AND (last_replayed_at IS NULL
               OR last_replayed_at < now() - make_interval(secs => %s * power(2, replays)))
        ORDER BY id FOR UPDATE SKIP LOCKED
        """,  # nosec B608 # the column list is this module's constant; values bound
        (max_replays, backoff_s),
    ).fetchall()
    return [DeadLetter(*r) for r in rows]


def mark_replayed(conn: psycopg.Connection, letter_id: int) -> None:
    conn.execute(
        "UPDATE staging.dead_letters SET status = 'replayed', replays = replays + 1, last_replayed_at = now()"
        " WHERE id = %s",
        (letter_id,),
    )


def mark_resolved(conn: psycopg.Connection, letter_id: int) -> None:
    conn.execute(
        "UPDATE staging.dead_letters SET status = 'resolved' WHERE id = %s AND status = 'replayed'",
        (letter_id,),
    )


def purge(conn: psycopg.Connection, letter_id: int | None = None) -> int:
    if letter_id is None:
        return conn.execute("UPDATE staging.dead_letters SET status = 'purged' WHERE status = 'dead'").rowcount
    return conn.execute(
        "UPDATE staging.dead_letters SET status = 'purged' WHERE id = %s AND status IN ('dead', 'replayed')",
        (letter_id,),
    ).rowcount
