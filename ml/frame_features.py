"""Model features of a chunk straight from its columns (claims_tasks.columns.ChunkFrame), equal to what
ml.features.extract computes from records.Claim values, without building them.

Pure: frames in, a features frame out. Only for claims the rules' pre-screen passed (every code, amount,
unit and date present and plain), which is what lets amounts be compared as floats and units be added
exactly in thousandths; any other claim is scored through ml.features.extract. tests/ml/test_frame_features.py
holds the two equal, column for column.

`FeatureRows` is what a chunk hands the scorer: claim ids with their features; it can be sliced (the
pipeline bisects a chunk the model cannot score) and iterated like a sequence of claims (`.claim_id`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, overload

import numpy as np
import polars as pl

from claims_tasks.columns import ChunkFrame, array_items
from ml import codes
from ml.features import _LINE_COUNTS, _SCALARS, CATEGORICAL, NUMERIC, _code_info


class _Id(NamedTuple):
    claim_id: str


@dataclass(frozen=True)
class FeatureRows:
    """Claims to score: ids and their FEATURES frame, row for row."""

    claim_ids: list[str]
    features: pl.DataFrame

    def __len__(self) -> int:
        return len(self.claim_ids)

    def __iter__(self) -> Iterator[_Id]:
        return (_Id(cid) for cid in self.claim_ids)

    @overload
    def __getitem__(self, index: int) -> _Id: ...
    @overload
    def __getitem__(self, index: slice) -> FeatureRows: ...
    def __getitem__(self, index: int | slice) -> _Id | FeatureRows:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("FeatureRows slices are contiguous")
            return FeatureRows(self.claim_ids[start:stop], self.features.slice(start, stop - start))
        return _Id(self.claim_ids[index])

    def subset(self, mask: Sequence[bool] | np.ndarray) -> FeatureRows:
        keep = np.asarray(mask, dtype=bool)
        return FeatureRows([c for c, k in zip(self.claim_ids, keep, strict=True) if k], self.features.filter(keep))

    @staticmethod
    def concat(parts: Sequence[FeatureRows]) -> FeatureRows:
        parts = [p for p in parts if len(p)]
        if not parts:
            return FeatureRows([], pl.DataFrame())
        return FeatureRows([c for p in parts for c in p.claim_ids], pl.concat([p.features for p in parts]))


def _code_table(values: list[str | None]) -> pl.DataFrame:
    rows = [(v, *_code_info(v)) for v in values]
    return pl.DataFrame(
        rows, schema={"procedure_code": pl.String, "kind": pl.Int64, "em": pl.Boolean, "top": pl.Boolean,
                      "paired": pl.Boolean, "therapy": pl.Boolean}, orient="row",
    )  # fmt: skip


def _modifier_table(values: list[str | None]) -> pl.DataFrame:
    rows = []
    for text in values:
        mods = set(array_items(text))
        rows.append((
            text, "25" in mods, codes.SIDE_MODIFIERS.isdisjoint(mods), "GP" in mods,
            bool(mods) and not codes.DISTINCT_MODIFIERS.isdisjoint(mods),
            bool(mods) and not codes.PROFESSIONAL_TECHNICAL.isdisjoint(mods),
        ))  # fmt: skip
    return pl.DataFrame(
        rows, schema={"modifiers": pl.String, "m25": pl.Boolean, "no_side": pl.Boolean, "gp": pl.Boolean,
                      "distinct": pl.Boolean, "pt": pl.Boolean}, orient="row",
    )  # fmt: skip


def extract_frame(frame: ChunkFrame, positions: Sequence[int]) -> pl.DataFrame:
    """FEATURES of the claims at these positions (in that order), as ml.features.extract would give for
    frame.claims_at(positions), for claims the pre-screen passed."""
    col = pl.col
    order = pl.DataFrame({"i": list(positions)}, schema={"i": pl.UInt32}).with_row_index("row")
    claims = order.join(frame.claims, on="i", how="left", maintain_order="left")
    lines = frame.lines.join(order, on="i", how="semi")
    lines = (
        # nulls_equal: a revenue-code-only line (no procedure) is kind "other", as procedure_kind(None) says
        lines.join(
            _code_table(lines["procedure_code"].unique().to_list()), on="procedure_code", how="left", nulls_equal=True
        )
        .join(_modifier_table(lines["modifiers"].unique().to_list()), on="modifiers", how="left", nulls_equal=True)
        .with_columns(
            col("line_charge").cast(pl.Float64).alias("charge"),
            (col("units_f") * 1000).round().cast(pl.Int64).alias("units_milli"),
        )
    )
    flags = [
        col("em") & col("top"),
        col("em") & col("m25"),
        col("paired"),
        col("paired") & col("no_side"),
        col("therapy") & ~col("gp"),
        col("distinct"),
        col("pt"),
    ]
    per_claim = lines.group_by("i").agg(
        pl.len().alias("n_lines"),
        col("units_milli").sum().alias("units_milli"),
        col("charge").max().alias("top_charge"),
        # the first line with the highest charge, as a strict ">" scan in line order keeps
        col("procedure_code").sort_by(["charge", "n"], descending=[True, False]).first().alias("top_code"),
        *(f.sum().alias(name) for f, name in zip(flags, _LINE_COUNTS, strict=True)),
    )
    kinds = lines.group_by("i", "kind").len().pivot(on="kind", index="i", values="len")
    dx = frame.diagnoses.join(order, on="i", how="semi").with_columns(
        col("icd10_code")
        .str.slice(0, 1)
        .replace_strict(codes.DX_GROUP_OF_LETTER, default=codes.DX_OTHER, return_dtype=pl.Int64)
        .fill_null(codes.DX_OTHER)
        .alias("group")
    )
    per_dx = dx.group_by("i").agg(
        pl.len().alias("n_diagnoses"),
        col("icd10_code").filter(col("seq") == 1).last().str.slice(0, 3).alias("principal_dx"),
    )
    groups = dx.group_by("i", "group").len().pivot(on="group", index="i", values="len")

    full = claims.join(per_claim, on="i", how="left").join(per_dx, on="i", how="left").sort("row")
    n = full.height
    numeric = np.zeros((n, len(NUMERIC)), dtype=np.float64)
    total = full["total_charge"].cast(pl.Float64).to_numpy()
    top = full["top_charge"].to_numpy()
    scalars = {
        "age": (full["start"] - full["born"]).dt.total_days().to_numpy() / 365.25,
        "log_total_charge": _log1p(np.maximum(total, 0.0)),
        "log_max_line_charge": _log1p(np.maximum(top, 0.0)),
        "n_lines": full["n_lines"].fill_null(0).to_numpy(),
        "n_diagnoses": full["n_diagnoses"].fill_null(0).to_numpy(),
        "units": full["units_milli"].fill_null(0).to_numpy() / 1000,
        "service_days": (full["end"] - full["start"]).dt.total_days().to_numpy(),
        "filing_lag_days": (full["received_day"] - full["end"]).dt.total_days().cast(pl.Float64).to_numpy(),
        "has_prior_auth": (full["prior_auth_number"].fill_null("") != "").to_numpy(),
        "has_rendering_npi": full["rendering_npi"].is_not_null().to_numpy(),
        "is_replacement": (full["claim_frequency"] == "7").fill_null(False).to_numpy(),
    }
    for j, name in enumerate(_SCALARS):
        numeric[:, j] = scalars[name]
    base = len(_SCALARS)
    _fill_counts(numeric, full["i"], kinds, base, len(codes.KINDS))
    base += len(codes.KINDS)
    for j, name in enumerate(_LINE_COUNTS):
        numeric[:, base + j] = full[name].fill_null(0).to_numpy()
    base += len(_LINE_COUNTS)
    _fill_counts(numeric, full["i"], groups, base, len(codes.DX_GROUPS))

    cats = {
        "payer_id": full["payer_id"],
        "financial_class": full["financial_class"],
        "place_of_service": full["place_of_service"],
        "facility_id": full["facility_id"],
        "sex": full["sex"],
        "primary_procedure": full["top_code"],
        "principal_dx": full["principal_dx"],
    }
    columns = {name: cats[name].alias(name).cast(pl.String) for name in CATEGORICAL}
    columns |= {name: pl.Series(name, numeric[:, j]) for j, name in enumerate(NUMERIC)}
    return pl.DataFrame(columns)


def _log1p(values: np.ndarray) -> np.ndarray:
    """math.log1p, as ml.features uses: numpy's log1p can differ from it in the last bit."""
    return np.fromiter((math.log1p(v) for v in values.tolist()), dtype=np.float64, count=len(values))


def _fill_counts(out: np.ndarray, order: pl.Series, counts: pl.DataFrame, base: int, width: int) -> None:
    """Write a pivoted (i, <index>...) count frame into out[:, base:base+width], rows in `order`."""
    if counts.height == 0:
        return
    aligned = pl.DataFrame({"i": order}).join(counts, on="i", how="left", maintain_order="left")
    for name in aligned.columns[1:]:
        out[:, base + int(name)] = aligned[name].fill_null(0).to_numpy()
