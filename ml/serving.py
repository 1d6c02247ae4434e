"""Scoring a chunk: the served model (and an A/B challenger), one vectorised call per model, the review
decision per claim. No I/O besides loading the artifacts once.

A/B: a claim goes to model B when a stable hash of its claim_id (BLAKE2b, the same in every process and
on every machine, unlike Python's salted hash()) falls below `ab_share`; so a claim scored twice is
scored by the same model, and the split is near the share.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from claims_tasks.records import Claim
from ml import drift, features
from ml.artifacts import CLEAN, ModelArtifact, ModelError, load
from ml.frame_features import FeatureRows

VARIANT_A = "A"
VARIANT_B = "B"
_AB_SCALE = float(1 << 64)


def ab_fraction(claim_id: str) -> float:
    """A stable number in [0, 1) for a claim id."""
    digest = hashlib.blake2b(claim_id.encode("utf-8"), digest_size=8, person=b"claims-ab").digest()
    return int.from_bytes(digest, "big") / _AB_SCALE


@dataclass(frozen=True)
class ServedModel:
    artifact: ModelArtifact
    variant: str
    classes: np.ndarray = field(init=False)
    clean_index: int = field(init=False)
    edges: np.ndarray = field(init=False)
    expected: tuple[float, ...] = field(init=False)

    def __post_init__(self) -> None:
        classes = self.artifact.classes
        bins = self.artifact.metadata.get("score_bins") or {}
        object.__setattr__(self, "classes", np.asarray(classes, dtype=object))
        object.__setattr__(self, "clean_index", classes.index(CLEAN))
        object.__setattr__(self, "edges", np.asarray(bins.get("edges", []), dtype=np.float64))
        object.__setattr__(self, "expected", tuple(bins.get("expected", [1.0])))

    @property
    def version(self) -> str:
        return self.artifact.version


class ClaimScore(NamedTuple):  # a NamedTuple: a thousand are built per chunk, ~4x faster than a dataclass
    predicted_filter: str
    denial_risk: float
    model_version: str
    variant: str
    review: bool


@dataclass
class VariantScores:
    """What one model did with its share of a chunk: for metrics and drift."""

    model: ServedModel
    claim_ids: list[str]
    risk: np.ndarray
    filters: dict[str, int]
    seconds: float

    def bin_counts(self, keep: set[str] | None = None) -> np.ndarray:
        """Histogram of the scores over the model's PSI bins; only of the claims in `keep` if given."""
        risk = self.risk
        if keep is not None:
            mask = [cid in keep for cid in self.claim_ids]
            if not all(mask):
                risk = risk[np.asarray(mask, dtype=bool)]
        return drift.bin_counts(risk, self.model.edges)


@dataclass
class ChunkScores:
    by_claim: dict[str, ClaimScore] = field(default_factory=dict)
    variants: list[VariantScores] = field(default_factory=list)

    def get(self, claim_id: str) -> ClaimScore | None:
        return self.by_claim.get(claim_id)

    def route(self, outcomes: dict[str, str]) -> dict[str, str]:
        """Outcomes with `done` turned into `review` for claims whose risk is above the threshold."""
        return {
            cid: "review" if status == "done" and (s := self.by_claim.get(cid)) is not None and s.review else status
            for cid, status in outcomes.items()
        }


class Scorer:
    """The served model A, an optional challenger B for a share of claims, and the review threshold."""

    def __init__(
        self, a: ModelArtifact, b: ModelArtifact | None = None, ab_share: float = 0.0, review_threshold: float = 1.0
    ) -> None:
        if not 0.0 <= ab_share <= 1.0:
            raise ModelError(f"CLAIMS_MODEL_AB_SHARE must be between 0 and 1, got {ab_share}")
        self.a = ServedModel(a, VARIANT_A)
        self.b = ServedModel(b, VARIANT_B) if b is not None else None
        self.ab_share = ab_share if b is not None else 0.0
        self.review_threshold = review_threshold

    def variant_of(self, claim_id: str) -> str:
        return VARIANT_B if self.ab_share > 0 and ab_fraction(claim_id) < self.ab_share else VARIANT_A

    def score(self, claims: Sequence[Claim] | FeatureRows) -> ChunkScores:
        """Every claim scored by its variant's model, one predict_proba call per model. Claims come as
        records, or with their features already extracted from a chunk's columns (FeatureRows)."""
        out = ChunkScores()
        if not len(claims):
            return out
        if isinstance(claims, FeatureRows):
            rows = claims
        else:
            rows = FeatureRows([c.claim_id for c in claims], features.extract(claims))
        if self.b is None or self.ab_share == 0:
            groups = [(self.a, rows)]
        else:
            on_b = np.fromiter((self.variant_of(cid) == VARIANT_B for cid in rows.claim_ids), dtype=bool)
            groups = [(self.a, rows.subset(~on_b)), (self.b, rows.subset(on_b))]
        for model, group in groups:
            if len(group):
                out.variants.append(self._score_group(model, group, out.by_claim))
        return out

    def _score_group(self, model: ServedModel, rows: FeatureRows, into: dict[str, ClaimScore]) -> VariantScores:
        t0 = time.perf_counter()
        proba = model.artifact.pipeline.predict_proba(rows.features)
        risk = 1.0 - proba[:, model.clean_index]
        filters = model.classes[np.argmax(proba, axis=1)]
        seconds = time.perf_counter() - t0
        review = risk > self.review_threshold
        ids = rows.claim_ids
        version, variant = model.version, model.variant
        for cid, f, r, rv in zip(ids, filters.tolist(), risk.tolist(), review.tolist(), strict=True):
            into[cid] = ClaimScore(f, r, version, variant, rv)
        return VariantScores(model, ids, risk, dict(Counter(filters.tolist())), seconds)


def load_scorer(
    path: Path,
    expected_version: str | None = None,
    ab_path: Path | None = None,
    ab_share: float = 0.0,
    review_threshold: float = 1.0,
) -> Scorer:
    """Load and check model A (and B when an A/B path is set); ModelError names what is wrong."""
    a = load(Path(path), expected_version)
    b = load(Path(ab_path)) if ab_path else None
    if b is not None and b.classes != a.classes:
        raise ModelError(f"A/B models predict different classes: {path} and {ab_path}")
    return Scorer(a, b, ab_share, review_threshold)


def single_threaded() -> None:
    """Pin OpenMP, which the trees' prediction uses, to one thread in this process for good. A worker runs
    one pool process per core; OpenMP threads spin-waiting against the other pool processes on the same
    cores cost far more than they give on a chunk of 1,000 claims."""
    threadpool_limits(limits=1, user_api="openmp")


def describe(scorer: Scorer) -> dict[str, Any]:
    """What is served, for `claims-tasks model-info`."""
    doc: dict[str, Any] = {**scorer.a.artifact.metadata, "path": str(scorer.a.artifact.path)}
    doc["serving"] = {"review_threshold": scorer.review_threshold, "ab_share": scorer.ab_share}
    if scorer.b is not None:
        doc["ab"] = {**scorer.b.artifact.metadata, "path": str(scorer.b.artifact.path)}
    return doc
