"""The filter model inside the worker: loading it from settings, the per-batch drift a chunk adds, and the
metrics a chunk's scoring records. The model itself lives in ml/; the pipeline calls these few functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg

from claims_tasks.config import Settings
from claims_tasks.metrics import MetricsBatch
from db import scores as score_rows

if TYPE_CHECKING:  # scikit-learn is imported only where a model is loaded
    from ml.serving import ChunkScores, Scorer


def load_served(settings: Settings) -> Scorer:
    """The model(s) the settings name, checked; ml.artifacts.ModelError (one line) when unusable."""
    from ml.serving import load_scorer

    return load_scorer(
        settings.model_path,
        expected_version=settings.model_version,
        ab_path=settings.model_ab_path,
        ab_share=settings.model_ab_share,
        review_threshold=settings.review_threshold,
    )


@dataclass(frozen=True)
class ScoringSummary:
    """One model's part of a chunk, for the chunk's metrics: counts, latency, scores and batch drift."""

    model_version: str
    variant: str
    scored: int
    seconds: float
    risk: tuple[float, ...]
    filters: Mapping[str, int]
    batch_psi: float | None


def record_batch_scores(
    conn: psycopg.Connection,
    batch_id: str,
    claim_ids: Sequence[str],
    scores: ChunkScores,
    outcomes: Mapping[str, str],
) -> list[ScoringSummary]:
    """Add the score histogram of the claims this chunk wrote to production (outcome done or review) to
    the batch's drift, in the caller's transaction; returns what the chunk's metrics need. `claim_ids` is
    the chunk message's list: it keys the chunk's row, so processing the message again replaces it."""
    written = {cid for cid, s in outcomes.items() if s in ("done", "review")}
    key = score_rows.chunk_key(claim_ids)
    out = []
    for part in scores.variants:
        psi: float | None = None
        bins = part.bin_counts(written)
        if bins.sum():
            model = part.model
            stored = score_rows.add_chunk(conn, batch_id, key, model.version, model.variant, bins, model.expected)
            psi = stored.psi
        out.append(
            ScoringSummary(
                model_version=part.model.version,
                variant=part.model.variant,
                scored=len(part.claim_ids),
                seconds=part.seconds,
                risk=tuple(part.risk.tolist()),
                filters=part.filters,
                batch_psi=psi,
            )
        )
    return out


def record_scoring(batch: MetricsBatch, summaries: list[ScoringSummary]) -> None:
    """Per-model counts, latency, score distribution and the batch's drift, into the chunk's metrics."""
    for s in summaries:
        batch.inc("model_claims_scored", s.scored, model=s.model_version, variant=s.variant)
        for name, n in s.filters.items():
            batch.inc("model_predictions", n, model=s.model_version, filter=name)
        batch.observe("model_scoring_seconds", s.seconds, model=s.model_version)
        batch.observe_many("model_denial_risk", s.risk, model=s.model_version, variant=s.variant)
        if s.batch_psi is not None:
            batch.set("model_score_psi", s.batch_psi, model=s.model_version, variant=s.variant)
