"""Held-out metrics for a filter model, and the majority-class baseline they are read against. Pure.

Denial risk is 1 - P(clean); calibration is measured on it (does a risk of 0.3 deny 30 % of the time?),
because that is the number the pipeline routes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score

CALIBRATION_BINS = 10


def denial_risk(proba: np.ndarray, classes: Sequence[str], clean: str) -> np.ndarray:
    return 1.0 - proba[:, list(classes).index(clean)]


def evaluate(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str], clean: str) -> dict[str, Any]:
    """accuracy, macro-F1, per-class recall and precision, multi-class log loss, and the calibration of
    the denial risk, for predictions `proba` (rows in y_true order, columns in `classes` order)."""
    labels = list(classes)
    y = np.asarray(y_true)
    pred = np.asarray(labels, dtype=object)[np.argmax(proba, axis=1)]
    recall = recall_score(y, pred, labels=labels, average=None, zero_division=0)
    precision = precision_score(y, pred, labels=labels, average=None, zero_division=0)
    return {
        "n": len(y),
        "accuracy": _r(accuracy_score(y, pred)),
        "macro_f1": _r(f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
        "per_class_recall": {c: _r(v) for c, v in zip(labels, recall, strict=True)},
        "per_class_precision": {c: _r(v) for c, v in zip(labels, precision, strict=True)},
        "log_loss": _r(log_loss(y, np.clip(proba, 1e-15, 1.0), labels=labels)),
        "calibration": calibration(y != clean, denial_risk(proba, labels, clean)),
    }


def calibration(denied: np.ndarray, risk: np.ndarray, bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """Brier score, expected calibration error (equal-width bins, weighted by count) and the reliability
    table behind it: per bin, the mean predicted risk next to the observed denial rate."""
    denied = np.asarray(denied, dtype=np.float64)
    risk = np.asarray(risk, dtype=np.float64)
    slot = np.minimum((risk * bins).astype(np.int64), bins - 1)
    table = []
    ece = 0.0
    for b in range(bins):
        mask = slot == b
        n = int(mask.sum())
        if not n:
            continue
        mean_risk, rate = float(risk[mask].mean()), float(denied[mask].mean())
        ece += n / len(risk) * abs(mean_risk - rate)
        table.append({"bin": [b / bins, (b + 1) / bins], "n": n, "mean_risk": _r(mean_risk), "denial_rate": _r(rate)})
    return {
        "brier": _r(float(np.mean((risk - denied) ** 2))),
        "ece": _r(ece),
        "reliability": table,
    }


def majority_baseline(
    y_train: Sequence[str], y_test: Sequence[str], classes: Sequence[str], clean: str
) -> dict[str, Any]:
    """What predicting the most frequent training class, with the training class shares as
    probabilities, scores on the same held-out claims."""
    labels = list(classes)
    train = np.asarray(y_train)
    prior = np.array([(train == c).mean() for c in labels])
    # ties to the first class, as DummyClassifier(strategy="most_frequent") does
    proba = np.tile(prior, (len(y_test), 1))
    doc = evaluate(y_test, proba, labels, clean)
    doc["strategy"] = "most_frequent"
    doc["predicts"] = labels[int(np.argmax(prior))]
    return doc


def _r(value: float) -> float:
    return round(float(value), 4)
