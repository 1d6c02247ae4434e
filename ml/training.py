"""Train the filter model: a labelled history, candidate pipelines, selection on a validation split, held-out
metrics next to the majority-class baseline, and the artifact. Deterministic for a seed.

Splits (shuffled by the seed): 70 % train, 10 % validation (picks the candidate), 20 % test (the metrics
in the metadata and in docs/MODEL.md). Candidates are a gradient-boosted tree ensemble and a linear
model, both behind the same ColumnTransformer inputs; the better validation macro-F1 wins.
"""

from __future__ import annotations

import platform
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from claims_tasks.synthetic import ReferenceCodes
from ml import artifacts, drift, evaluation, features, history
from ml.encoders import CategoryCodes

DEFAULT_CLAIMS = 50_000
DEFAULT_SEED = 20_251_125
SPLIT = {"train": 0.7, "validation": 0.1, "test": 0.2}


def gradient_boosting(seed: int) -> Pipeline:
    """Histogram gradient boosting with native categorical splits. Capped at 60 rounds (x 6 classes):
    prediction cost grows with the tree count and must stay within ~10 µs a claim at chunk size."""
    prep = ColumnTransformer(
        # Unknown, missing or rare categories become NaN, which the trees treat as "missing"; at most 250
        # categories per column, within the 255 bins a histogram tree allows.
        [("cat", CategoryCodes(), list(features.CATEGORICAL)), ("num", "passthrough", list(features.NUMERIC))],
        verbose_feature_names_out=False,
    )
    model = HistGradientBoostingClassifier(
        learning_rate=0.2,
        max_iter=60,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        categorical_features=list(range(len(features.CATEGORICAL))),
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=5,
        random_state=seed,
    )
    return Pipeline([("prep", prep), ("model", model)])


def logistic_regression(seed: int) -> Pipeline:
    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5), list(features.CATEGORICAL)),
            ("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), list(features.NUMERIC)),
        ]
    )
    model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    return Pipeline([("prep", prep), ("model", model)])


CANDIDATES: dict[str, Callable[[int], Pipeline]] = {
    "hist_gradient_boosting": gradient_boosting,
    "logistic_regression": logistic_regression,
}


@dataclass(frozen=True)
class Trained:
    pipeline: Pipeline
    metadata: dict[str, Any]


def split_indices(n: int, seed: int) -> dict[str, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    a = round(n * SPLIT["train"])
    b = a + round(n * SPLIT["validation"])
    return {"train": order[:a], "validation": order[a:b], "test": order[b:]}


def train(
    n_claims: int,
    seed: int,
    ref: ReferenceCodes,
    candidates: tuple[str, ...] = tuple(CANDIDATES),
    log: Callable[[str], None] = lambda _: None,
) -> Trained:
    """Generate n_claims of labelled history, fit every candidate, keep the best on validation macro-F1,
    and measure it on the test split. Same seed, same reference codes: same model and metrics."""
    if n_claims < 1_000:
        raise ValueError(f"need at least 1,000 claims to train and evaluate, got {n_claims}")
    started = time.perf_counter()
    hist = history.generate_history(n_claims, seed, ref)
    X = features.extract(hist.claims)
    y = np.asarray(hist.labels, dtype=object)
    log(f"history: {n_claims:,} claims, labels {dict(Counter(hist.labels).most_common())}")
    parts = split_indices(n_claims, seed)
    Xp = {k: X[idx] for k, idx in parts.items()}
    yp = {k: y[idx] for k, idx in parts.items()}

    fitted: dict[str, Pipeline] = {}
    scores: dict[str, dict[str, float]] = {}
    for name in candidates:
        t0 = time.perf_counter()
        pipe = CANDIDATES[name](seed).fit(Xp["train"], yp["train"])
        fit_s = time.perf_counter() - t0
        val = f1_score(yp["validation"], pipe.predict(Xp["validation"]), average="macro", zero_division=0)
        fitted[name] = pipe
        scores[name] = {"validation_macro_f1": round(float(val), 4), "fit_seconds": round(fit_s, 2)}
        log(f"candidate {name}: validation macro-F1 {val:.4f} (fit {fit_s:.1f}s)")
    best = max(candidates, key=lambda k: (scores[k]["validation_macro_f1"], -candidates.index(k)))
    pipe = fitted[best]

    classes = [str(c) for c in pipe.classes_]
    proba = pipe.predict_proba(Xp["test"])
    metrics = evaluation.evaluate(yp["test"], proba, classes, history.CLEAN)
    baseline = evaluation.majority_baseline(yp["train"], yp["test"], classes, history.CLEAN)
    risk = evaluation.denial_risk(proba, classes, history.CLEAN)
    edges = drift.bin_edges(risk)
    model = pipe.named_steps["model"]
    metadata: dict[str, Any] = {
        "name": "claims-filter",
        "version": None,  # set by save(): given, or derived from the artifact's checksum
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sklearn_version": sklearn.__version__,
        "python_version": platform.python_version(),
        "numpy_version": np.__version__,
        "algorithm": best,
        "n_iter": int(np.max(model.n_iter_)) if hasattr(model, "n_iter_") else None,
        "features": list(features.FEATURES),
        "categorical_features": list(features.CATEGORICAL),
        "classes": classes,
        "clean_class": history.CLEAN,
        "training": {
            "claims": n_claims,
            "seed": seed,
            "split": {k: len(v) for k, v in parts.items()},
            "label_shares": {c: round(float(np.mean(y == c)), 4) for c in classes},
            "rules": "docs/MODEL.md",
            "rule_hit_rate": history.RULE_HIT_RATE,
            "label_noise": history.LABEL_NOISE,
            "seconds": round(time.perf_counter() - started, 1),
        },
        "candidates": scores,
        "metrics": metrics,
        "baseline": baseline,
        "score_bins": {
            "edges": edges,
            "expected": [round(float(p), 6) for p in drift.proportions(drift.bin_counts(risk, edges))],
        },
    }
    return Trained(pipeline=pipe, metadata=metadata)


def save(trained: Trained, path: Path, version: str | None = None) -> dict[str, Any]:
    """Write the artifact and its metadata; returns the metadata as written."""
    return artifacts.save(trained.pipeline, {**trained.metadata, "version": version}, path)
