"""Per-batch denial-risk histograms and their drift (PSI against training), in the production database.

Chunks of one batch run in many processes, so the batch's histogram is a sum. Each chunk writes its own
row (`batch_score_chunks`, keyed by a digest of the chunk message's claim ids) in the transaction that
writes its claims: a message processed again (after a compensation, or replayed from the dead letters)
replaces its row instead of adding to the sum, and a redelivery that writes nothing writes no row. Then,
under the lock of the batch's `batch_scores` row, the sums are recomputed from the chunk rows and the PSI
from the sums; the lock makes the last chunk to commit see every other one, so the stored PSI always
matches the stored counts. That tail runs last in the transaction and holds the lock only until commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

from ml import drift

_CHUNK = """
INSERT INTO batch_score_chunks (batch_id, model_version, variant, chunk_key, bins, scored)
VALUES (%(batch)s, %(version)s, %(variant)s, %(chunk)s, %(bins)s, %(scored)s)
ON CONFLICT (batch_id, model_version, variant, chunk_key)
DO UPDATE SET bins = EXCLUDED.bins, scored = EXCLUDED.scored
"""
_LOCK = """
INSERT INTO batch_scores AS s (batch_id, model_version, variant, bins, expected, scored)
VALUES (%(batch)s, %(version)s, %(variant)s, '{}', %(expected)s, 0)
ON CONFLICT (batch_id, model_version, variant) DO UPDATE SET updated_at = now()
"""
_SUMS = """
SELECT array_agg(total ORDER BY i), (SELECT sum(scored) FROM batch_score_chunks
        WHERE batch_id = %(batch)s AND model_version = %(version)s AND variant = %(variant)s)
FROM (SELECT i, sum(b) AS total
      FROM batch_score_chunks c, unnest(c.bins) WITH ORDINALITY AS u(b, i)
      WHERE c.batch_id = %(batch)s AND c.model_version = %(version)s AND c.variant = %(variant)s
      GROUP BY i) AS per_bin
"""
_STORE = """
UPDATE batch_scores SET bins = %(bins)s, scored = %(scored)s, psi = %(psi)s, updated_at = now()
WHERE batch_id = %(batch)s AND model_version = %(version)s AND variant = %(variant)s
"""


def chunk_key(claim_ids: Sequence[str]) -> str:
    """The same for every delivery of one chunk message."""
    digest = hashlib.blake2b(digest_size=12)
    for cid in claim_ids:
        digest.update(cid.encode())
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class BatchScores:
    batch_id: str
    model_version: str
    variant: str
    bins: list[int]
    expected: list[float]
    scored: int
    psi: float | None
    updated_at: datetime


def add_chunk(
    conn: psycopg.Connection,
    batch_id: str,
    key: str,
    model_version: str,
    variant: str,
    bins: Sequence[int],
    expected: Sequence[float],
) -> BatchScores:
    """Record a chunk's bin counts for one model, in the caller's transaction; returns the batch's sums
    and PSI as now stored."""
    p = {
        "batch": batch_id, "version": model_version, "variant": variant, "chunk": key,
        "bins": [int(b) for b in bins], "scored": int(sum(bins)), "expected": [float(e) for e in expected],
    }  # fmt: skip
    conn.execute(_CHUNK, p)
    conn.execute(_LOCK, p)  # serialises this tail per batch and model: see the module docstring
    row = conn.execute(_SUMS, p).fetchone()
    assert row is not None
    totals = [int(x) for x in row[0] or []]
    scored = int(row[1] or 0)
    value = drift.psi(totals, p["expected"])
    stored = conn.execute(_STORE + " RETURNING updated_at", {**p, "bins": totals, "scored": scored, "psi": value})
    updated = stored.fetchone()
    assert updated is not None
    return BatchScores(batch_id, model_version, variant, totals, p["expected"], scored, value, updated[0])


def batch_scores(conn: psycopg.Connection, batch_id: str) -> list[BatchScores]:
    """The batch's score histogram and drift, one row per model that scored it (A, and B under A/B)."""
    rows = conn.execute(
        "SELECT batch_id, model_version, variant, bins, expected, scored, psi, updated_at FROM batch_scores"
        " WHERE batch_id = %s ORDER BY variant, model_version",
        (batch_id,),
    ).fetchall()
    return [BatchScores(r[0], r[1], r[2], list(r[3]), list(r[4]), int(r[5]), r[6], r[7]) for r in rows]
