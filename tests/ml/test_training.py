"""Training: deterministic for a seed, and well above the majority-class baseline on held-out claims."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sklearn

from claims_tasks.model_cli import INIT_CLAIMS
from claims_tasks.synthetic import ReferenceCodes
from ml import artifacts, features, history, training

# Fields that say when and how fast, not what was learned.
_CLOCK = {"trained_at"}


def _without_clock(doc: dict) -> dict:
    out = {k: v for k, v in doc.items() if k not in _CLOCK}
    out["training"] = {k: v for k, v in doc["training"].items() if k != "seconds"}
    out["candidates"] = {n: {k: v for k, v in c.items() if k != "fit_seconds"} for n, c in doc["candidates"].items()}
    return out


def test_training_is_deterministic_for_a_seed(tmp_path: Path, ref: ReferenceCodes) -> None:
    first = training.train(2_000, 11, ref)
    second = training.train(2_000, 11, ref)
    other = training.train(2_000, 12, ref)

    fresh = features.extract(history.generate_history(500, 99, ref).claims)
    same = first.pipeline.predict_proba(fresh)
    assert np.array_equal(same, second.pipeline.predict_proba(fresh))
    assert not np.array_equal(same, other.pipeline.predict_proba(fresh))
    assert _without_clock(first.metadata) == _without_clock(second.metadata)

    a = training.save(first, tmp_path / "a.joblib")
    b = training.save(second, tmp_path / "b.joblib")
    assert a["sha256"] == b["sha256"] and a["version"] == b["version"]  # byte-identical artifacts


def test_init_sized_model_beats_the_baseline_by_far(tmp_path: Path, ref: ReferenceCodes) -> None:
    doc = training.save(training.train(INIT_CLAIMS, training.DEFAULT_SEED, ref), tmp_path / "m.joblib")

    metrics, baseline = doc["metrics"], doc["baseline"]
    assert metrics["macro_f1"] >= 0.75, metrics
    assert metrics["macro_f1"] >= baseline["macro_f1"] + 0.5
    assert metrics["accuracy"] > baseline["accuracy"] + 0.1
    assert baseline["predicts"] == "clean"
    assert set(metrics["per_class_recall"]) == set(history.CLASSES)
    assert min(metrics["per_class_recall"].values()) > 0.3  # every filter is found, not just the big ones
    # the denial risk is calibrated: better Brier score than the prior, small calibration error
    assert metrics["calibration"]["brier"] < baseline["calibration"]["brier"] / 2
    assert metrics["calibration"]["ece"] < 0.06
    assert doc["algorithm"] in training.CANDIDATES and set(doc["candidates"]) == set(training.CANDIDATES)
    assert doc["sklearn_version"] == sklearn.__version__ and doc["features"] == list(features.FEATURES)
    assert doc["classes"] == sorted(history.CLASSES) and doc["training"]["claims"] == INIT_CLAIMS
    split = doc["training"]["split"]
    assert split == {"train": 5_600, "validation": 800, "test": 1_600} and metrics["n"] == 1_600
    assert len(doc["score_bins"]["expected"]) == len(doc["score_bins"]["edges"]) + 1
    # what was saved is what load gives back
    assert artifacts.load(tmp_path / "m.joblib").metadata == doc
