"""The pre-screen never passes a claim a rule fails: every failing case of the rule tests, generated
claims with every seeded defect, and hand-made oddities are suspects; clean generated claims are not."""

from __future__ import annotations

import importlib
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pytest

from claims_tasks.columns import parse_chunk, plain_text
from claims_tasks.prescreen import covers, screen
from claims_tasks.records import Claim, Diagnosis
from claims_tasks.rules import RULES, RuleContext, validate_claim
from claims_tasks.rules.duplicates import within_chunk
from claims_tasks.synthetic import generate_block, to_records
from db.reference import edit_tables_from_files, reference_codes_from_files
from tests.chunk_text import raw_chunk
from tests.rules.builders import EDIT_CTX, make_claim, with_line

MODULES = ("charges", "coding", "dates", "diagnoses", "duplicates", "npi", "procedures", "reference", "required")
TODAY = date(2026, 11, 25)


def _failing_cases() -> list[object]:
    cases = []
    for name in MODULES:
        module = importlib.import_module(f"tests.rules.test_{name}")
        for param in module.FAILING:
            claim, ctx, expected = param.values
            if expected:
                cases.append(pytest.param(claim, ctx, id=f"{name}-{param.id}"))
    return cases


def _suspect(claims: list[Claim], ctx: RuleContext) -> np.ndarray:
    raw = raw_chunk(claims)
    assert plain_text(raw)
    frame = parse_chunk(raw)
    flagged = np.array([c.claim_id in ctx.duplicates.found for c in claims], dtype=bool)
    return screen(frame, ctx, flagged)


@pytest.mark.parametrize(("claim", "ctx"), _failing_cases())
def test_every_failing_case_of_the_rule_tests_is_a_suspect(claim: Claim, ctx: RuleContext) -> None:
    if not plain_text(raw_chunk([claim])):
        pytest.skip("escaped text takes the record path")
    assert validate_claim(claim, ctx)
    assert _suspect([claim], ctx).tolist() == [True]


def test_the_valid_claim_of_the_rule_tests_is_not_a_suspect() -> None:
    claim = make_claim()
    assert validate_claim(claim, EDIT_CTX) == []
    assert _suspect([claim], EDIT_CTX).tolist() == [False]


def test_a_valid_revenue_code_only_claim_is_not_a_suspect() -> None:
    lines = tuple(replace(ln, procedure_code=None, modifiers=(), revenue_code="0120") for ln in make_claim().lines)
    inpatient = make_claim(lines=lines, payer_id="PAY01")  # PAY01 has a prior-auth table in EDIT_CTX
    assert validate_claim(inpatient, EDIT_CTX) == []
    assert _suspect([inpatient], EDIT_CTX).tolist() == [False]


ODDITIES = [
    make_claim(patient_first_name="\u00a0"),  # whitespace Python counts, regexes may not
    make_claim(patient_first_name="Ñ"),  # valid but not ASCII: a suspect that passes
    make_claim(rendering_npi=" "),
    make_claim(rendering_npi=""),
    make_claim(financial_class=" "),
    make_claim(total_charge=Decimal("150.000")),
    make_claim(total_charge=Decimal("1E+2")),
    with_line(0, units=Decimal("1.0001")),
    with_line(0, units=Decimal("9999.000")),
    with_line(0, modifiers=("25", None)),
    with_line(0, modifiers=()),
    with_line(0, diagnosis_pointers=(1, None)),
    with_line(0, diagnosis_pointers=()),
    with_line(0, service_date=None),
    with_line(0, place_of_service=""),
    make_claim(received_at=None),
    make_claim(received_at=datetime(2025, 6, 30, 23, 59)),
    make_claim(diagnoses=(Diagnosis(1, "E11.9"), Diagnosis(2, ""))),
    make_claim(diagnoses=(Diagnosis(2, "E11.9"), Diagnosis(1, "I10"))),
    make_claim(prior_auth_number=" "),
    # 837I lines: revenue code with a blank procedure, a blank revenue code, revenue code with a space
    with_line(0, procedure_code=" ", modifiers=(), revenue_code="0120"),
    with_line(0, revenue_code=""),
    with_line(1, procedure_code=None, modifiers=(), revenue_code=" 0120"),
]


@pytest.mark.parametrize("claim", ODDITIES)
def test_oddities_are_suspects_whenever_a_rule_fails_them(claim: Claim) -> None:
    raw = raw_chunk([claim])
    if not plain_text(raw):
        pytest.skip("escaped text takes the record path")
    if validate_claim(claim, EDIT_CTX):
        assert _suspect([claim], EDIT_CTX).tolist() == [True]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_claims_with_every_defect(seed: int) -> None:
    ref = reference_codes_from_files()
    ctx = RuleContext(
        today=TODAY, facilities={f"F{k:04d}" for k in range(1, 21)}, payers=ref.payer_ids,
        financial_classes=ref.financial_classes, known_procedures=ref.procedure_codes,
        edits=edit_tables_from_files(),
    )  # fmt: skip
    claims = to_records(generate_block(np.random.default_rng(seed), 1, 3000, 20, 0.5, ref, TODAY))
    ctx = replace(ctx, duplicates=within_chunk(claims))
    suspect = _suspect(claims, ctx)
    failing = np.array([bool(validate_claim(c, ctx)) for c in claims])
    assert failing.sum() >= 1400
    assert not (failing & ~suspect).any(), [claims[i].claim_id for i in np.flatnonzero(failing & ~suspect)]
    # useful, not just safe: clean generated claims are passed without the rules
    assert (suspect & ~failing).sum() <= 0.01 * (~failing).sum()


def test_a_rule_the_screen_does_not_know_turns_it_off() -> None:
    def extra(claim: Claim, ctx: RuleContext) -> list:
        return []

    assert covers(RULES)
    assert not covers((*RULES, extra))
    assert not covers(RULES[:-1])


def test_a_loaded_reference_table_with_none_of_the_chunks_ids_active_makes_every_claim_a_suspect() -> None:
    # The worker's per-chunk sets (claims_tasks/reference_cache.py): empty, but the table is loaded.
    ref = reference_codes_from_files()
    ctx = RuleContext(
        today=TODAY, payers=ref.payer_ids, financial_classes=ref.financial_classes,
        known_procedures=ref.procedure_codes, reference_loaded=frozenset({"facilities"}),
    )  # fmt: skip
    claims = to_records(generate_block(np.random.default_rng(5), 1, 200, 20, 0.0, ref, TODAY))
    assert _suspect(claims, ctx).all()
    assert all("FACILITY_UNKNOWN" in {f.code for f in validate_claim(c, ctx)} for c in claims)
