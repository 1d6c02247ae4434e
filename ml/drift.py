"""Score drift: the population-stability index of a batch's denial-risk distribution against the one the
model showed on its held-out claims at training time. Pure.

Bins are the deciles of the training distribution (so each holds ~10 % of it), recorded in the model's
metadata. Counts add up across chunks and processes, so a batch's PSI is computed from summed counts,
never averaged from per-chunk values. Rule of thumb: < 0.1 stable, 0.1-0.25 shifting, > 0.25 drifted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BINS = 10
# Empty bins would make the log infinite; a floor this small leaves populated bins unaffected.
_FLOOR = 1e-4


def bin_edges(risk: np.ndarray, bins: int = BINS) -> list[float]:
    """Inner edges at the quantiles of `risk`; duplicates (ties at 0 or 1) are dropped."""
    inner = np.quantile(np.asarray(risk, dtype=np.float64), np.linspace(0, 1, bins + 1)[1:-1])
    return [float(x) for x in np.unique(inner)]


def bin_counts(risk: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """How many scores fall in each of len(edges) + 1 bins (right-open, the last closed)."""
    slots = np.searchsorted(np.asarray(edges, dtype=np.float64), np.asarray(risk, dtype=np.float64), "right")
    return np.bincount(slots, minlength=len(edges) + 1).astype(np.int64)


def proportions(counts: Sequence[float]) -> np.ndarray:
    arr = np.asarray(counts, dtype=np.float64)
    total = arr.sum()
    return arr / total if total else arr


def psi(actual_counts: Sequence[float], expected: Sequence[float]) -> float:
    """Σ (a - e) · ln(a / e) over bins, with a and e as proportions; 0.0 when nothing was scored."""
    a = proportions(actual_counts)
    if not a.any():
        return 0.0
    e = np.maximum(np.asarray(expected, dtype=np.float64), _FLOOR)
    a = np.maximum(a, _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))
