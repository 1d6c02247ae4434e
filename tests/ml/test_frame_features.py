"""Features from a chunk's columns equal ml.features.extract on the same claims, value for value, so the
model scores the column path's claims exactly as it scores records; FeatureRows slices and filters in step."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import polars as pl
import pytest

from claims_tasks.columns import parse_chunk
from claims_tasks.prescreen import screen
from claims_tasks.rules import RuleContext
from claims_tasks.synthetic import generate_block, to_records
from db.reference import edit_tables_from_files, reference_codes_from_files
from ml import features
from ml.frame_features import FeatureRows, extract_frame
from tests.chunk_text import raw_chunk

TODAY = date(2026, 11, 25)


def _revenue_only(claims: list, every: int) -> list:
    """Every `every`-th claim as an 837I claim: its lines carry a revenue code and no procedure code."""
    return [
        replace(c, lines=tuple(replace(ln, procedure_code=None, modifiers=(), revenue_code="0120") for ln in c.lines))
        if k % every == 0 else c
        for k, c in enumerate(claims)
    ]  # fmt: skip


@pytest.mark.parametrize(("seed", "every"), [(11, 0), (12, 0), (13, 7)])
def test_frame_features_equal_record_features(seed: int, every: int) -> None:
    ref = reference_codes_from_files()
    claims = to_records(generate_block(np.random.default_rng(seed), 1, 2000, 20, 0.1, ref, TODAY))
    if every:
        claims = _revenue_only(claims, every)
    frame = parse_chunk(raw_chunk(claims))
    ctx = RuleContext(today=TODAY, facilities={f"F{k:04d}" for k in range(1, 21)}, payers=ref.payer_ids,
                      financial_classes=ref.financial_classes, known_procedures=ref.procedure_codes,
                      edits=edit_tables_from_files())  # fmt: skip
    clean = np.flatnonzero(~screen(frame, ctx)).tolist()
    assert len(clean) > 1500
    if every:  # the screen passes clean revenue-code-only claims, so their features come from the frame
        assert sum(all(ln.procedure_code is None for ln in claims[i].lines) for i in clean) > 200
    order = clean[::-1]  # any order of positions: the rows follow it

    got = extract_frame(frame, order)
    want = features.extract([claims[i] for i in order])

    assert got.columns == want.columns == list(features.FEATURES)
    for name in want.columns:
        a, b = got[name], want[name]
        if b.dtype == pl.String:
            assert a.to_list() == b.to_list(), name
        else:
            assert np.array_equal(a.to_numpy(), b.to_numpy(), equal_nan=True), name


def test_feature_rows_slice_and_subset_keep_ids_with_their_rows() -> None:
    rows = FeatureRows(["a", "b", "c"], pl.DataFrame({"x": [1.0, 2.0, 3.0]}))
    assert [r.claim_id for r in rows] == ["a", "b", "c"] and rows[1].claim_id == "b"
    tail = rows[1:]
    assert tail.claim_ids == ["b", "c"] and tail.features["x"].to_list() == [2.0, 3.0]
    picked = rows.subset([True, False, True])
    assert picked.claim_ids == ["a", "c"] and picked.features["x"].to_list() == [1.0, 3.0]
    both = FeatureRows.concat([picked, tail])
    assert both.claim_ids == ["a", "c", "b", "c"] and both.features["x"].to_list() == [1.0, 3.0, 2.0, 3.0]
