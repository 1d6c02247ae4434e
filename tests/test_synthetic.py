"""The synthetic claim generator, without a database: shape, realism bounds, defects, determinism."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl
import pytest

from claims_tasks.records import CLAIM_FIELDS, DIAGNOSIS_FIELDS, LINE_FIELDS
from claims_tasks.synthetic import (
    DEFECTS,
    ICD10_CODES,
    Block,
    ReferenceCodes,
    generate_block,
    is_valid_npi,
    npi_check_digits,
    to_records,
)
from db.reference import edit_tables_from_files, facility_rows, reference_codes_from_files

TODAY = date(2026, 11, 25)
FACILITIES = 20
ICD10_RE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")
CPT_RE = re.compile(r"^[A-CEGHJ-MP-V0-9][0-9]{3}[AFMTU0-9]$")
CMS_POS = {"02", "10", "11", "12", "19", "20", "21", "22", "23", "24", "31", "81"}


@pytest.fixture(scope="module")
def ref() -> ReferenceCodes:
    return reference_codes_from_files()


@pytest.fixture(scope="module")
def block(ref: ReferenceCodes) -> Block:
    return generate_block(np.random.default_rng(20261125), 1_000, 20_000, FACILITIES, 0.1, ref, TODAY)


def _valid(block: Block, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.join(block.defects.select("claim_id"), on="claim_id", how="anti")


def test_npi_check_digit_matches_cms_example() -> None:
    assert npi_check_digits(np.array([123456789]))[0] == 3
    assert is_valid_npi("1234567893")
    assert not is_valid_npi("1234567890")
    assert not is_valid_npi("3234567893") and not is_valid_npi("123456789")


def test_columns_are_the_staging_columns(block: Block) -> None:
    assert tuple(block.claims.columns) == CLAIM_FIELDS
    assert tuple(block.lines.columns) == LINE_FIELDS
    assert tuple(block.diagnoses.columns) == DIAGNOSIS_FIELDS
    assert block.defects.columns == ["claim_id", "defect", "expected_rule"]
    assert block.claims.schema["received_at"] == pl.Datetime("us", "UTC")
    assert block.lines.schema["modifiers"] == pl.List(pl.String)
    assert block.lines.schema["diagnosis_pointers"] == pl.List(pl.Int16)


def test_claim_ids_are_consecutive_and_sort_numerically(block: Block) -> None:
    ids = block.claims["claim_id"].to_list()
    assert ids[0] == "C000000001000" and ids[-1] == "C000000020999"
    assert all(re.fullmatch(r"C\d{12}", i) for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [int(i[1:]) for i in ids] == list(range(1_000, 21_000))


def test_same_seed_same_block_other_seed_other_block(ref: ReferenceCodes) -> None:
    a = generate_block(np.random.default_rng(5), 1, 3_000, 10, 0.05, ref, TODAY)
    b = generate_block(np.random.default_rng(5), 1, 3_000, 10, 0.05, ref, TODAY)
    c = generate_block(np.random.default_rng(6), 1, 3_000, 10, 0.05, ref, TODAY)
    for name in ("claims", "lines", "diagnoses", "defects"):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert not a.claims.equals(c.claims)


def test_line_and_diagnosis_counts(block: Block) -> None:
    per_claim = block.lines.group_by("claim_id").agg(
        pl.len().alias("n"),
        pl.col("line_number").min().alias("lo"),
        pl.col("line_number").max().alias("hi"),
        pl.col("procedure_code").n_unique().alias("distinct"),
    )
    assert per_claim.height == block.claims.height  # every claim has lines
    assert per_claim["n"].min() == 1 and per_claim["n"].max() == 8
    assert (per_claim["lo"] == 1).all() and (per_claim["hi"] == per_claim["n"]).all()
    assert (per_claim["distinct"] == per_claim["n"]).all()
    counts = Counter(per_claim["n"].to_list())
    assert counts[1] + counts[2] + counts[3] > 0.7 * block.claims.height  # skewed to few lines
    assert counts[1] > counts[4] > counts[8]

    dx = (
        _valid(block, block.diagnoses)
        .group_by("claim_id")
        .agg(
            pl.len().alias("n"),
            pl.col("sequence").max().alias("hi"),
            pl.col("icd10_code").n_unique().alias("u"),
        )
    )
    assert dx.height == _valid(block, block.claims).height
    assert dx["n"].min() == 1 and dx["n"].max() == 6
    assert (dx["hi"] == dx["n"]).all() and (dx["u"] == dx["n"]).all()


def test_npis_pass_luhn(block: Block) -> None:
    valid = _valid(block, block.claims)
    assert all(is_valid_npi(npi) for npi in valid["billing_npi"].to_list())
    rendering = valid["rendering_npi"].drop_nulls().to_list()
    assert 0.75 * valid.height < len(rendering) < 0.95 * valid.height
    assert all(is_valid_npi(npi) for npi in rendering)
    assert all(is_valid_npi(npi) for _, _, npi, _ in facility_rows(50))


def test_total_is_exact_sum_of_lines(block: Block) -> None:
    sums = block.lines.group_by("claim_id").agg(pl.col("line_charge").sum().alias("sum"))
    joined = _valid(block, block.claims).join(sums, on="claim_id")
    assert (joined["total_charge"] == joined["sum"]).all()
    assert (block.lines.join(block.defects, on="claim_id", how="anti")["line_charge"] > 0).all()


def test_exact_invalid_share_and_every_defect_kind(ref: ReferenceCodes, block: Block) -> None:
    assert block.defects.height == round(20_000 * 0.1)
    assert block.defects["claim_id"].n_unique() == block.defects.height
    kinds = Counter(block.defects["defect"].to_list())
    assert set(kinds) == {d for d, _ in DEFECTS}
    assert max(kinds.values()) - min(kinds.values()) <= 1  # rotated evenly
    assert dict(zip(block.defects["defect"], block.defects["expected_rule"], strict=True)) == dict(DEFECTS)
    for n, share in ((1_001, 0.05), (37, 0.5), (10, 0.0), (16, 1.0)):
        got = generate_block(np.random.default_rng(n), 1, n, 5, share, ref, TODAY)
        assert got.defects.height == round(n * share)


def test_dates_are_plausible(block: Block) -> None:
    c = _valid(block, block.claims)
    assert (c["date_of_birth"] >= date(1930, 1, 1)).all() and (c["date_of_birth"] <= date(2022, 12, 31)).all()
    assert (c["date_of_birth"] <= c["service_from"]).all()
    assert (c["service_from"] >= TODAY - timedelta(days=300)).all() and (c["service_from"] < TODAY).all()
    span = (c["service_to"] - c["service_from"]).dt.total_days()
    assert span.min() == 0 and span.max() <= 3
    received = c["received_at"].dt.date()
    lag = (received - c["service_to"]).dt.total_days()
    assert lag.min() >= 1 and lag.max() <= 45
    assert c["received_at"].max() < datetime.combine(TODAY, datetime.min.time(), UTC)
    lines = _valid(block, block.lines).join(c.select("claim_id", "service_from", "service_to"), on="claim_id")
    assert (lines["service_date"] >= lines["service_from"]).all()
    assert (lines["service_date"] <= lines["service_to"]).all()


def test_codes_and_fields_are_well_formed(ref: ReferenceCodes, block: Block) -> None:
    c = _valid(block, block.claims)
    lines = _valid(block, block.lines)
    assert set(c["sex"].unique()) == {"F", "M"}
    assert set(c["facility_id"].unique()) <= {f"F{k:04d}" for k in range(1, FACILITIES + 1)}
    assert set(c["payer_id"].unique()) <= set(ref.payer_ids)
    assert set(c["financial_class"].unique()) <= set(ref.financial_classes)
    assert set(c["place_of_service"].unique()) <= CMS_POS
    assert Counter(c["claim_frequency"].to_list()).most_common(1)[0][0] == "1"
    assert set(c["claim_frequency"].unique()) <= {"1", "7"}
    assert c.select(pl.exclude("rendering_npi", "prior_auth_number")).null_count().sum_horizontal().item() == 0
    assert set(lines["procedure_code"].unique()) <= set(ref.procedure_codes)
    assert all(CPT_RE.match(code) for code in ref.procedure_codes)
    assert all(ICD10_RE.match(code) for code in _valid(block, block.diagnoses)["icd10_code"].unique())
    assert set(lines["units"].unique()) <= {Decimal(1), Decimal(2), Decimal(3)}
    mods = lines["modifiers"]
    assert mods.list.len().max() <= 4 and mods.list.len().min() == 0
    assert all(re.fullmatch(r"[A-Z0-9]{2}", m) for m in mods.explode().drop_nulls().unique())
    joined = lines.join(c.select("claim_id", "place_of_service"), on="claim_id")
    assert (joined["place_of_service"] == joined["place_of_service_right"]).all()
    # pointers reference existing diagnoses, 1 to 4 of them
    n_dx = block.diagnoses.group_by("claim_id").agg(pl.col("sequence").max().alias("n_dx"))
    ptr = lines.join(n_dx, on="claim_id")
    assert ptr["diagnosis_pointers"].list.len().min() == 1 and ptr["diagnosis_pointers"].list.len().max() <= 4
    assert (ptr["diagnosis_pointers"].list.max() <= ptr["n_dx"]).all()
    assert (ptr["diagnosis_pointers"].list.min() >= 1).all()


def test_built_in_icd10_codes_are_billable() -> None:
    assert len(ICD10_CODES) >= 150 and len(set(ICD10_CODES)) == len(ICD10_CODES)
    assert not any(code[0] in "VWXY" for code in ICD10_CODES)  # no external-cause codes
    cm = pytest.importorskip("simple_icd_10_cm")
    assert [code for code in ICD10_CODES if not (cm.is_valid_item(code) and cm.is_leaf(code))] == []


def test_empty_block(ref: ReferenceCodes) -> None:
    b = generate_block(np.random.default_rng(1), 1, 0, 3, 0.5, ref, TODAY)
    assert (b.claims.height, b.lines.height, b.diagnoses.height, b.defects.height) == (0, 0, 0, 0)
    assert tuple(b.claims.columns) == CLAIM_FIELDS


def test_other_today_keeps_bounds(ref: ReferenceCodes) -> None:
    today = date(2024, 3, 1)
    b = generate_block(np.random.default_rng(3), 1, 5_000, 7, 0.0, ref, today)
    assert (b.claims["date_of_birth"] <= b.claims["service_from"]).all()
    assert (b.claims["received_at"].dt.date() < today).all()


@pytest.fixture(scope="module")
def rules() -> Any:
    """The validation rules, when that package exists (it is written alongside this generator)."""
    return pytest.importorskip("claims_tasks.rules")


@pytest.fixture(scope="module")
def edits() -> Any:
    """The full edit tables from the repository's files and the installed ICD-10-CM package."""
    return edit_tables_from_files()


@pytest.fixture(scope="module")
def records(block: Block) -> list[Any]:
    return to_records(block)


def _context(rules: Any, ref: ReferenceCodes, edits: Any, records: list[Any]) -> Any:
    """The full catalogue, as a worker runs it, with the block as one chunk (duplicates found inside it)."""
    from claims_tasks.rules.duplicates import within_chunk

    return rules.RuleContext(
        today=TODAY,
        timely_filing_days=365,
        facilities={f"F{k:04d}" for k in range(1, FACILITIES + 1)},
        payers=ref.payer_ids,
        financial_classes=ref.financial_classes,
        known_procedures=ref.procedure_codes,
        edits=edits,
        duplicates=within_chunk(records),
    )


def test_valid_claims_pass_every_rule(
    rules: Any, ref: ReferenceCodes, block: Block, edits: Any, records: list[Any]
) -> None:
    ctx = _context(rules, ref, edits, records)
    defects = set(block.defects["claim_id"])
    failing = {c.claim_id: [f.code for f in rules.validate_claim(c, ctx)] for c in records if c.claim_id not in defects}
    assert {k: v for k, v in failing.items() if v} == {}


def test_each_defect_fires_exactly_its_rule(
    rules: Any, ref: ReferenceCodes, block: Block, edits: Any, records: list[Any]
) -> None:
    ctx = _context(rules, ref, edits, records)
    expected = dict(zip(block.defects["claim_id"], block.defects["expected_rule"], strict=True))
    wrong = {}
    for claim in records:
        if claim.claim_id in expected:
            codes = {f.code for f in rules.validate_claim(claim, ctx)}
            if codes != {expected[claim.claim_id]}:
                wrong[claim.claim_id] = (expected[claim.claim_id], sorted(codes))
    assert wrong == {}


def test_valid_claims_exercise_the_edit_tables(ref: ReferenceCodes, block: Block) -> None:
    """The generator meets the edit tables rather than avoiding them: claims that need a prior authorisation
    carry one, NCCI pairs it bills together carry a bypass modifier, units stay within the MUE."""
    claims, lines = _valid(block, block.claims), _valid(block, block.lines)
    auth = pl.DataFrame(sorted(ref.prior_auth), schema=["payer_id", "procedure_code"], orient="row")
    needing = lines.join(claims.select("claim_id", "payer_id", "prior_auth_number"), on="claim_id").join(
        auth, on=["payer_id", "procedure_code"]
    )
    assert needing.height > 50 and needing["prior_auth_number"].null_count() == 0
    first, second = next(pair for pair, ind in sorted(ref.ncci.items()) if ind == 1 and pair[0] == "97530")
    with_first = lines.filter(pl.col("procedure_code") == first)["claim_id"].implode()
    seconds = lines.filter((pl.col("procedure_code") == second) & pl.col("claim_id").is_in(with_first))
    assert seconds.height > 5 and seconds["modifiers"].list.contains("59").all()
    limits = pl.DataFrame({"procedure_code": list(ref.mue), "most": [v[0] for v in ref.mue.values()]})
    units = lines.join(limits, on="procedure_code")
    assert units.height == lines.height and (units["units"] <= units["most"]).all()
