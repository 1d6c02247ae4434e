"""Each automated repair: it fixes what it names, and leaves alone what it does not."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from claims_tasks.records import Diagnosis, RuleFailure
from claims_tasks.repairs import (
    apply_repairs,
    copy_place_of_service_to_lines,
    normalise_diagnosis_codes,
    normalise_procedure_codes,
    recompute_total,
    strip_identifier_whitespace,
    swap_inverted_dates,
    worth_repairing,
)
from claims_tasks.rules import validate_claim
from tests.rules.builders import CTX, make_claim, with_line


def test_diagnosis_codes_lose_whitespace_and_case() -> None:
    claim = replace(make_claim(), diagnoses=(Diagnosis(1, " e11 .9"), Diagnosis(2, "I10")))
    fixed, fields = normalise_diagnosis_codes(claim)
    assert [d.icd10_code for d in fixed.diagnoses] == ["E11.9", "I10"]
    assert fields == ("diagnoses[0].icd10_code",)
    assert normalise_diagnosis_codes(make_claim()) == (make_claim(), ())


def test_procedure_codes_and_modifiers_lose_whitespace_and_case() -> None:
    claim = with_line(1, procedure_code="j1100 ", modifiers=("jw", " "))
    fixed, fields = normalise_procedure_codes(claim)
    assert (fixed.lines[1].procedure_code, fixed.lines[1].modifiers) == ("J1100", ("JW",))
    assert set(fields) == {"lines[1].procedure_code", "lines[1].modifiers"}


def test_identifiers_lose_whitespace() -> None:
    claim = replace(make_claim(), billing_npi=" 1234567893 ", sex="f")
    fixed, fields = strip_identifier_whitespace(claim)
    assert (fixed.billing_npi, fixed.sex) == ("1234567893", "F")
    assert set(fields) == {"billing_npi", "sex"}


def test_swapped_dates_are_swapped_only_when_the_lines_agree() -> None:
    good = make_claim()
    swapped = replace(good, service_from=good.service_to, service_to=good.service_from)
    fixed, fields = swap_inverted_dates(swapped)
    assert (fixed.service_from, fixed.service_to) == (good.service_from, good.service_to)
    assert fields == ("service_from", "service_to")
    # A line outside the swapped range means the dates are wrong in some other way: no guess.
    odd = replace(swapped, lines=(replace(swapped.lines[0], service_date=date(2024, 1, 1)), swapped.lines[1]))
    assert swap_inverted_dates(odd) == (odd, ())


def test_total_follows_complete_lines_only() -> None:
    claim = replace(make_claim(), total_charge=Decimal("999.00"))
    fixed, fields = recompute_total(claim)
    assert fixed.total_charge == Decimal("150.00") and fields == ("total_charge",)
    missing = with_line(1, line_charge=None)
    assert recompute_total(replace(missing, total_charge=Decimal("1"))) == (
        replace(missing, total_charge=Decimal("1")),
        (),
    )
    negative = with_line(1, line_charge=Decimal("-5"))
    assert recompute_total(negative)[1] == ()


def test_line_place_of_service_copied_from_claim() -> None:
    claim = with_line(0, place_of_service=None)
    fixed, fields = copy_place_of_service_to_lines(claim)
    assert fixed.lines[0].place_of_service == claim.place_of_service
    assert fields == ("lines[0].place_of_service",)


def test_repaired_claims_validate_clean_and_log_what_changed() -> None:
    broken = replace(
        make_claim(),
        total_charge=Decimal("1.00"),
        diagnoses=(Diagnosis(1, "e11.9"), Diagnosis(2, "i10")),
    )
    failures = validate_claim(broken, CTX)
    assert {f.code for f in failures} >= {"CHARGE_TOTAL_MISMATCH", "ICD10_FORMAT"}
    assert worth_repairing(broken, failures)
    result = apply_repairs(broken)
    assert validate_claim(result.claim, CTX) == []
    assert [a["repair"] for a in result.applied] == ["REPAIR_ICD10_NORMALISE", "REPAIR_TOTAL_FROM_LINES"]


def test_not_worth_repairing_when_any_failure_is_beyond_repair() -> None:
    bad_npi = replace(make_claim(), billing_npi="1234567890", total_charge=Decimal("1.00"))
    failures = validate_claim(bad_npi, CTX)
    assert not worth_repairing(bad_npi, failures)
    npi_only = [RuleFailure("NPI_CHECK_DIGIT", "data_quality", "billing_npi", "x")]
    assert not worth_repairing(make_claim(), npi_only)
