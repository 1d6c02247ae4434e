"""Batch bookkeeping in the staging database, next to the ledger it summarises.

The dispatcher opens a batch and adds to it in the same transactions that mark claims `queued`; a worker
advances it in the same transaction that flips those claims to their outcome, by the number of rows that
flip actually changed. So the counters are exact under redelivery (a second flip changes nothing, adds
nothing), and `finished` means the ledger holds an outcome for every claim of the batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import psycopg

OUTCOMES = ("done", "failed", "review")
COUNTERS = (*OUTCOMES, "resolved")


@dataclass(frozen=True)
class BatchProgress:
    batch_id: str
    status: str
    total: int
    chunks: int
    done: int
    failed: int
    review: int
    resolved: int
    created_at: datetime
    dispatched_at: datetime | None
    finished_at: datetime | None

    @property
    def processed(self) -> int:
        return self.done + self.failed + self.review + self.resolved


def open_batch(conn: psycopg.Connection, batch_id: str, shards: int, chunk_size: int) -> None:
    conn.execute(
        "INSERT INTO staging.batches (batch_id, status, shards, chunk_size) VALUES (%s, 'dispatching', %s, %s)",
        (batch_id, shards, chunk_size),
    )


def drop_empty_batch(conn: psycopg.Connection, batch_id: str) -> None:
    """Remove a batch the dispatcher opened but put no claim in."""
    conn.execute("DELETE FROM staging.batches WHERE batch_id = %s AND total = 0", (batch_id,))


def add_to_batch(conn: psycopg.Connection, batch_id: str, claims: int, chunks: int) -> None:
    conn.execute(
        "UPDATE staging.batches SET total = total + %s, chunks = chunks + %s WHERE batch_id = %s",
        (claims, chunks, batch_id),
    )


def close_dispatch(conn: psycopg.Connection, batch_id: str) -> None:
    """Dispatch is over: the batch runs, or is already finished if the workers were faster."""
    conn.execute(
        """
        UPDATE staging.batches SET dispatched_at = now(),
            status = CASE WHEN done + failed + review + resolved >= total THEN 'finished' ELSE 'running' END,
            finished_at = CASE WHEN done + failed + review + resolved >= total THEN now() END
        WHERE batch_id = %s
        """,
        (batch_id,),
    )


def advance_batch(conn: psycopg.Connection, batch_id: str, flipped: Mapping[str, int]) -> None:
    """Add the outcomes a status flip produced; the batch finishes when every claim has one.
    While the dispatcher is still adding pages (status 'dispatching') it cannot finish."""
    d, f, r = (int(flipped.get(k, 0)) for k in OUTCOMES)
    if not (d or f or r):
        return
    conn.execute(
        """
        UPDATE staging.batches SET
            done = done + %(d)s, failed = failed + %(f)s, review = review + %(r)s,
            status = CASE WHEN status = 'running' AND done + failed + review + resolved + %(n)s >= total
                          THEN 'finished' ELSE status END,
            finished_at = CASE WHEN status = 'running' AND done + failed + review + resolved + %(n)s >= total
                               THEN now() ELSE finished_at END
        WHERE batch_id = %(b)s
        """,
        {"d": d, "f": f, "r": r, "n": d + f + r, "b": batch_id},
    )


def get_batch(conn: psycopg.Connection, batch_id: str) -> BatchProgress | None:
    row = conn.execute(
        "SELECT batch_id, status, total, chunks, done, failed, review, resolved, created_at, dispatched_at,"
        " finished_at FROM staging.batches WHERE batch_id = %s",
        (batch_id,),
    ).fetchone()
    return BatchProgress(*row) if row else None


def shift(conn: psycopg.Connection, batch_id: str, from_state: str, to_state: str | None, n: int) -> None:
    """Move n claims of a batch between counters after the fact (a repair, a void, a reprocess);
    to_state None takes them out of the batch altogether (they were re-dispatched in another)."""
    if from_state not in COUNTERS or (to_state is not None and to_state not in COUNTERS):
        raise ValueError(f"cannot shift batch counters from {from_state!r} to {to_state!r}")
    if to_state is None:
        conn.execute(
            f"UPDATE staging.batches SET {from_state} = {from_state} - %s, total = total - %s WHERE batch_id = %s",  # nosec B608 # state names are checked against COUNTERS first; values bound
            (n, n, batch_id),
        )
    else:
        conn.execute(
            f"UPDATE staging.batches SET {from_state} = {from_state} - %s, {to_state} = {to_state} + %s"  # nosec B608 # state names are checked against COUNTERS first; values bound
            " WHERE batch_id = %s",
            (n, n, batch_id),
        )
