"""Feature extraction: the contract columns, and values a payer edit could turn on."""

from __future__ import annotations

import math
from dataclasses import replace

import polars as pl

from ml import features
from tests.ml.claims import claim, line


def test_columns_are_the_feature_list_with_types() -> None:
    frame = features.extract([claim(), claim(claim_id="M0002")])
    assert tuple(frame.columns) == features.FEATURES
    assert frame.height == 2
    assert all(frame[c].dtype == pl.String for c in features.CATEGORICAL)
    assert all(frame[c].dtype == pl.Float64 for c in features.NUMERIC)


def test_values_of_one_claim() -> None:
    subject = claim(
        line(1, "99213", "120.00", ("25",)),
        line(2, "20610", "300.00"),
        line(3, "97110", "80.00"),
        dx=("M17.11", "E11.9", "S93.401A"),
        age=50,
        lag=12,
        payer_id="AETNA",
        prior_auth_number="PA9",
    )
    row = features.extract([subject]).row(0, named=True)
    assert row["payer_id"] == "AETNA" and row["primary_procedure"] == "20610" and row["principal_dx"] == "M17"
    assert math.isclose(row["age"], 50.38, abs_tol=0.01)
    assert row["filing_lag_days"] == 12 and row["has_prior_auth"] == 1 and row["n_lines"] == 3
    assert math.isclose(row["log_total_charge"], math.log1p(500))
    assert (row["em_lines"], row["minor_lines"], row["therapy_lines"]) == (1, 1, 1)
    assert (row["em_with_25"], row["paired_lines"], row["paired_unmarked"], row["therapy_without_gp"]) == (1, 1, 1, 1)
    assert (row["dx_m"], row["dx_e"], row["dx_st"], row["dx_i"]) == (1, 1, 1, 0)


def test_missing_values_are_missing_not_errors() -> None:
    bare = replace(
        claim(), lines=(), diagnoses=(), date_of_birth=None, received_at=None, total_charge=None, payer_id=None
    )
    row = features.extract([bare]).row(0, named=True)
    assert row["payer_id"] is None and row["primary_procedure"] is None and row["principal_dx"] is None
    assert math.isnan(row["age"]) and math.isnan(row["filing_lag_days"]) and math.isnan(row["log_total_charge"])
    assert row["n_lines"] == 0 and row["dx_other"] == 0
    assert features.extract([]).height == 0
