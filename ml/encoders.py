"""Categorical columns to integer codes for the tree model, fast on the polars frames ml.features builds.

scikit-learn's OrdinalEncoder turns each column into a numpy object array and compares Python strings,
~1.8 µs a claim for our seven columns; polars' replace_strict does the same lookup natively in ~0.2 µs.
At 20 µs a claim for the whole scoring stage, that difference matters. Behaviour matches the encoder it
replaces as the tree model sees it: codes 0..k-1 for categories seen at least `min_frequency` times in
training (at most `max_categories`, the most frequent), and NaN ("missing", which the trees route
explicitly) for missing, rare or unseen values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, TransformerMixin


class CategoryCodes(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    def __init__(self, min_frequency: int = 5, max_categories: int = 250) -> None:
        self.min_frequency = min_frequency
        self.max_categories = max_categories

    def fit(self, X: pl.DataFrame, y: Any = None) -> CategoryCodes:
        frame = _frame(X)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.width
        self.categories_: list[list[str]] = []
        for name in frame.columns:
            counts = frame[name].drop_nulls().value_counts()
            kept = counts.filter(pl.col("count") >= self.min_frequency).sort(["count", name], descending=[True, False])
            self.categories_.append(sorted(kept[name].head(self.max_categories).to_list()))
        return self

    def transform(self, X: pl.DataFrame) -> np.ndarray:
        codes = _frame(X).select(
            pl.col(str(name)).replace_strict(cats, list(range(len(cats))), default=None, return_dtype=pl.Float64)
            for name, cats in zip(self.feature_names_in_, self.categories_, strict=True)
        )
        return codes.to_numpy()  # nulls become NaN

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.feature_names_in_, dtype=object)


def _frame(X: Any) -> pl.DataFrame:
    if isinstance(X, pl.DataFrame):
        return X.with_columns(pl.all().cast(pl.String))
    raise TypeError(f"CategoryCodes expects a polars DataFrame, got {type(X).__name__}")
