"""The filter model in a real worker: what a `celery worker` subprocess wrote to production.claims matches
offline scoring (A/B included), the batch's drift and the metrics agree with it, claims above the review
threshold end in `review` on both sides of the ledger, and a bad artifact keeps the worker from starting."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
import redis
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from claims_tasks.config import Settings
from claims_tasks.metrics import RedisCollector
from claims_tasks.tasks import run_dispatch
from db import scores as score_rows
from db import staging as staging_rows
from db.ledger import reconcile
from db.reference import reference_codes_from_files
from db.seed import seed_claims
from ml import artifacts, drift, training
from ml.serving import VARIANT_A, VARIANT_B, load_scorer
from tests.workers import WorkerProcess, wait_for_batch

pytestmark = pytest.mark.slow

AB_SHARE = 0.3
THRESHOLD = 0.5


@pytest.fixture(scope="module")
def challenger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model B: the same recipe on another seed, so its scores differ from A's."""
    path = tmp_path_factory.mktemp("challenger") / "b.joblib"
    training.save(training.train(4_000, 4242, reference_codes_from_files()), path)
    return path


def _seed_and_dispatch(settings: Settings, staging: psycopg.Connection, n: int, seed: int) -> tuple[str, list]:
    """Valid claims, dispatched while no worker runs; returns the batch and its claims as workers load them."""
    seed_claims(settings.staging_dsn, n, facilities=20, invalid_share=0.0, seed=seed)
    result = run_dispatch()
    assert result is not None and result.claims == n
    ids = [r[0] for r in staging.execute("SELECT claim_id FROM staging.claims WHERE batch_id = %s", (result.batch_id,))]
    with psycopg.connect(settings.staging_dsn) as conn:
        claims = staging_rows.load_chunk(conn, result.batch_id, ids)
    assert len(claims) == n
    return result.batch_id, claims


def _run_worker(
    tmp_path: Path, settings: Settings, batch_id: str, when_ready: Callable[[], None] = lambda: None, **env: str
) -> tuple[int, int, int, int]:
    proc = WorkerProcess(tmp_path / "worker.log", extra_env=env)
    try:
        proc.wait_ready()
        when_ready()
        return wait_for_batch(settings.staging_dsn, batch_id)
    finally:
        proc.stop()


def _copy_model(source: Path, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, into / "model.joblib")
    shutil.copy(artifacts.metadata_path(source), into / "model.json")
    return into / "model.joblib"


def _scrape(settings: Settings) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(RedisCollector(redis.Redis.from_url(settings.broker_url)))
    out = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_served_predictions_match_offline_with_ab_split(
    clean: Settings,
    staging: psycopg.Connection,
    production: psycopg.Connection,
    challenger: Path,
    tmp_path: Path,
) -> None:
    batch_id, claims = _seed_and_dispatch(clean, staging, 3_000, seed=31)
    env = {"CLAIMS_MODEL_AB_PATH": str(challenger), "CLAIMS_MODEL_AB_SHARE": str(AB_SHARE)}
    total, done, failed, review = _run_worker(tmp_path, clean, batch_id, **env)
    assert (total, done, failed, review) == (3_000, 3_000, 0, 0)  # threshold 1.0 in the test session

    served = {
        r[0]: r[1:]
        for r in production.execute(
            "SELECT claim_id, predicted_filter, denial_risk, model_version, model_variant, routed_to_review"
            " FROM claims WHERE batch_id = %s",
            (batch_id,),
        )
    }
    offline = load_scorer(clean.model_path, ab_path=challenger, ab_share=AB_SHARE).score(claims)
    assert set(served) == set(offline.by_claim)
    for claim_id, want in offline.by_claim.items():
        predicted, risk, version, variant, routed = served[claim_id]
        assert (predicted, version, variant, routed) == (want.predicted_filter, want.model_version, want.variant, False)
        assert risk == pytest.approx(want.denial_risk, abs=1e-9)

    versions = {v.model.variant: v.model.version for v in offline.variants}
    assert versions[VARIANT_A] != versions[VARIANT_B]
    per_variant = {v: sum(1 for s in served.values() if s[3] == v) for v in (VARIANT_A, VARIANT_B)}
    assert per_variant[VARIANT_B] / 3_000 == pytest.approx(AB_SHARE, abs=0.04)

    # drift: per batch and model, summed over the chunks that ran in two processes
    stored = {s.variant: s for s in score_rows.batch_scores(production, batch_id)}
    assert set(stored) == {VARIANT_A, VARIANT_B}
    for variant, row in stored.items():
        assert row.model_version == versions[variant] and row.scored == per_variant[variant] == sum(row.bins)
        risks = [s[1] for s in served.values() if s[3] == variant]
        edges = json.loads(
            artifacts.metadata_path(clean.model_path if variant == VARIANT_A else challenger).read_text()
        )["score_bins"]["edges"]
        assert row.bins == drift.bin_counts(risks, edges).tolist()
        assert row.psi == pytest.approx(drift.psi(row.bins, row.expected))
        assert row.psi < 0.25, "seeded claims come from the training population: no drift"

    # metrics, as /metrics serves them
    scraped = _scrape(clean)
    for variant, version in versions.items():
        labels = (("model", version), ("variant", variant))
        assert scraped[("model_claims_scored_total", labels)] == per_variant[variant]
        assert scraped[("model_denial_risk_count", labels)] == per_variant[variant]
        assert scraped[("model_score_psi", labels)] == pytest.approx(stored[variant].psi)
        assert scraped[("model_scoring_seconds_count", (("model", version),))] >= 1
    predictions = sum(v for (name, _), v in scraped.items() if name == "model_predictions_total")
    assert predictions == 3_000
    assert reconcile(clean.staging_dsn, clean.production_dsn, batch_id).ok


def test_claims_above_the_threshold_go_to_review(
    clean: Settings, staging: psycopg.Connection, production: psycopg.Connection, tmp_path: Path, challenger: Path
) -> None:
    batch_id, _ = _seed_and_dispatch(clean, staging, 2_000, seed=32)
    served = _copy_model(clean.model_path, tmp_path / "served")
    checked = artifacts.load(served).version

    def retrain_in_place() -> None:  # someone overwrites the file while the worker runs
        _copy_model(challenger, served.parent)

    total, done, failed, review = _run_worker(
        tmp_path, clean, batch_id, retrain_in_place,
        CLAIMS_REVIEW_THRESHOLD=str(THRESHOLD), CLAIMS_MODEL_PATH=str(served),
    )  # fmt: skip
    # the worker serves the model it checked at start, not what the file holds when the chunks arrive
    versions = production.execute("SELECT DISTINCT model_version FROM claims").fetchall()
    assert versions == [(checked,)] and artifacts.load(served).version != checked

    risky = {r[0] for r in production.execute("SELECT claim_id FROM claims WHERE denial_risk > %s", (THRESHOLD,))}
    routed = {r[0] for r in production.execute("SELECT claim_id FROM claims WHERE routed_to_review")}
    in_review = {r[0] for r in staging.execute("SELECT claim_id FROM staging.claims WHERE status = 'review'")}
    assert 0 < len(risky) < 2_000
    assert risky == routed == in_review
    assert (total, done, failed, review) == (2_000, 2_000 - len(risky), 0, len(risky))

    ledger = reconcile(clean.staging_dsn, clean.production_dsn, batch_id)
    assert ledger.ok, ledger.as_dict()
    assert (ledger.states["review"], ledger.states["done"]) == (review, done)
    scraped = _scrape(clean)
    by_outcome = {
        o: sum(
            v for (name, labels), v in scraped.items() if name == "claims_processed_total" and ("outcome", o) in labels
        )
        for o in ("done", "review")
    }
    assert by_outcome == {"done": done, "review": review}


def _damage(kind: str, source: Path, into: Path) -> Path:
    path = into / "model.joblib"
    if kind == "missing":
        return path
    shutil.copy(source, path)
    meta = artifacts.metadata_path(path)
    doc = json.loads(artifacts.metadata_path(source).read_text())
    if kind == "corrupt":
        data = bytearray(path.read_bytes())
        data[-200:-100] = b"\xff" * 100
        path.write_bytes(bytes(data))
    elif kind == "sklearn_version":
        doc["sklearn_version"] = "1.0.2"
    elif kind == "features":
        doc["features"] = [*doc["features"][:-1], "days_since_last_claim"]
    meta.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        ("missing", "does not exist"),
        ("corrupt", "is corrupt"),
        ("sklearn_version", "trained with scikit-learn 1.0.2"),
        ("features", "feature list"),
    ],
)
def test_worker_refuses_a_bad_model_with_one_line(
    clean: Settings, staging: psycopg.Connection, tmp_path: Path, kind: str, needle: str
) -> None:
    bad = _damage(kind, clean.model_path, tmp_path)
    seed_claims(clean.staging_dsn, 50, invalid_share=0.0, seed=5)
    result = run_dispatch()
    assert result is not None

    worker = WorkerProcess(tmp_path / "worker.log", extra_env={"CLAIMS_MODEL_PATH": str(bad)})
    try:
        code = worker.proc.wait(timeout=90)
    finally:
        worker.stop()
    log = worker.log.read_text()
    assert code != 0
    assert "Traceback" not in log
    ours = [line for line in log.splitlines() if line.startswith("claims_tasks worker:")]
    assert len(ours) == 1 and needle in ours[0] and str(bad.with_suffix("")) in ours[0], log
    # nothing was scored with it: the chunks wait in the queue, the claims stay queued
    states = dict(staging.execute("SELECT status, count(*) FROM staging.claims GROUP BY 1").fetchall())
    assert states == {"queued": 50}
