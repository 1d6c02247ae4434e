"""Serving without services: the A/B split, one scoring call per model, review routing, drift (PSI)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from claims_tasks.synthetic import ReferenceCodes
from ml import drift, features, history
from ml.serving import VARIANT_A, VARIANT_B, ab_fraction, load_scorer
from tests.workers import ROOT

IDS = [f"C{n:012d}" for n in range(1, 20_001)]


def test_ab_split_is_stable_across_processes() -> None:
    """The same claim gets the same variant in any process (Python's hash() is salted per process)."""
    sample = IDS[:200]
    code = (
        "import json, sys; from ml.serving import ab_fraction;"
        " print(json.dumps([ab_fraction(i) for i in json.load(sys.stdin)]))"
    )
    seen = []
    for hash_seed in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, "-c", code], input=json.dumps(sample), capture_output=True, text=True, check=True,
            cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )  # fmt: skip
        seen.append(json.loads(proc.stdout))
    assert seen[0] == seen[1] == [ab_fraction(i) for i in sample]


@pytest.mark.parametrize("share", [0.1, 0.3, 0.5])
def test_ab_split_is_near_its_share(small_model: Path, share: float) -> None:
    scorer = load_scorer(small_model, ab_path=small_model, ab_share=share)
    on_b = sum(scorer.variant_of(i) == VARIANT_B for i in IDS) / len(IDS)
    assert on_b == pytest.approx(share, abs=0.012)  # ~3.5 standard errors at n = 20,000
    # independent of the facility-shard hash: sequential ids are not split in runs
    runs = sum(scorer.variant_of(a) != scorer.variant_of(b) for a, b in itertools.pairwise(IDS))
    assert runs == pytest.approx(2 * share * (1 - share) * len(IDS), rel=0.1)


def test_no_challenger_means_everything_on_a(small_model: Path) -> None:
    scorer = load_scorer(small_model, ab_share=0.5)  # a share without a B path does nothing
    assert {scorer.variant_of(i) for i in IDS[:1000]} == {VARIANT_A}


def test_scoring_a_chunk_matches_offline_and_routes_by_threshold(small_model: Path, ref: ReferenceCodes) -> None:
    claims = history.generate_history(2_000, 77, ref).claims
    scorer = load_scorer(small_model, ab_path=small_model, ab_share=0.25, review_threshold=0.6)
    scores = scorer.score(claims)

    assert len(scores.variants) == 2  # one vectorised call per model
    assert sorted(len(v.claim_ids) for v in scores.variants) == sorted(
        [sum(scorer.variant_of(c.claim_id) == v for c in claims) for v in (VARIANT_A, VARIANT_B)]
    )
    offline = scorer.a.artifact.pipeline.predict_proba(features.extract(claims))
    clean = list(scorer.a.classes).index("clean")
    for claim, row in zip(claims, offline, strict=True):
        got = scores.by_claim[claim.claim_id]
        assert got.denial_risk == pytest.approx(1 - row[clean], abs=1e-12)
        assert got.predicted_filter == scorer.a.classes[int(np.argmax(row))]
        assert got.review == (got.denial_risk > 0.6)
        assert got.variant == scorer.variant_of(claim.claim_id)
    routed = scores.route({c.claim_id: "done" for c in claims} | {"X-failed": "failed"})
    assert routed["X-failed"] == "failed"
    assert {cid for cid, s in routed.items() if s == "review"} == {
        cid for cid, s in scores.by_claim.items() if s.review
    }
    assert 0 < sum(s == "review" for s in routed.values()) < len(claims)
    # the drift histogram counts only what was written: here, all but one claim of B's share
    part_b = next(v for v in scores.variants if v.model.variant == VARIANT_B)
    written = set(scores.by_claim) - {part_b.claim_ids[0]}
    assert part_b.bin_counts(written).sum() == len(part_b.claim_ids) - 1
    assert part_b.bin_counts().sum() == len(part_b.claim_ids)


def test_psi_is_zero_on_the_training_distribution_and_large_when_scores_shift() -> None:
    rng = np.random.default_rng(0)
    train = rng.beta(0.5, 2.0, 50_000)
    edges = drift.bin_edges(train)
    expected = drift.proportions(drift.bin_counts(train, edges))
    same = drift.bin_counts(rng.beta(0.5, 2.0, 5_000), edges)
    shifted = drift.bin_counts(rng.beta(2.0, 0.5, 5_000), edges)
    assert len(edges) == drift.BINS - 1 and np.allclose(expected, 0.1, atol=0.001)
    assert drift.psi(same, expected) < 0.02
    assert drift.psi(shifted, expected) > 0.25
    # counts add up across chunks: the PSI of summed halves is the PSI of the whole
    batch = rng.beta(2.0, 0.5, 5_000)
    chunks = [drift.bin_counts(batch[i : i + 1_000], edges) for i in range(0, 5_000, 1_000)]
    assert drift.psi(sum(chunks), expected) == drift.psi(drift.bin_counts(batch, edges), expected)
    assert drift.psi(np.zeros(drift.BINS), expected) == 0.0
