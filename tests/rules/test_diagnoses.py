from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from claims_tasks.records import Diagnosis
from claims_tasks.rules import Icd10Edition, validate_claim
from claims_tasks.rules.diagnoses import age_at, demographic_edits, edition_for

from .builders import EDIT_CTX, EDITION, EDITS, case, check, make_claim

C = "coding"


def with_dx(*codes: str) -> object:
    """The valid claim with these diagnoses (I10 added as a second one, since lines point at two)."""
    codes = codes if len(codes) > 1 else (*codes, "I10")
    return make_claim(diagnoses=tuple(Diagnosis(i + 1, code) for i, code in enumerate(codes)))


FAILING = [
    case(with_dx("E11.9", "E11.99"), [("ICD10_UNKNOWN", C, "diagnoses[1].icd10_code")], "unknown", EDIT_CTX),
    case(with_dx("E1199"), [("ICD10_UNKNOWN", C, "diagnoses[0].icd10_code")], "unknown-undotted", EDIT_CTX),
    case(with_dx("E11"), [("ICD10_NOT_BILLABLE", C, "diagnoses[0].icd10_code")], "header-3", EDIT_CTX),
    case(with_dx("I10", "M54.5"), [("ICD10_NOT_BILLABLE", C, "diagnoses[1].icd10_code")], "header-4", EDIT_CTX),
    case(with_dx("I10", "J4590"), [("ICD10_NOT_BILLABLE", C, "diagnoses[1].icd10_code")], "header-undotted", EDIT_CTX),
    case(
        with_dx("W19.XXXA", "E11.9"),
        [("ICD10_EXTERNAL_CAUSE_PRINCIPAL", C, "diagnoses[0].icd10_code")],
        "external-principal",
        EDIT_CTX,
    ),
    case(
        with_dx("V43.52XA"),
        [("ICD10_EXTERNAL_CAUSE_PRINCIPAL", C, "diagnoses[0].icd10_code")],
        "external-principal-no-tables",
    ),
    case(with_dx("E11.9", "N40.0"), [("DX_SEX_CONFLICT", C, "diagnoses[1].icd10_code")], "male-dx-female"),
    case(replace(with_dx("N95.1"), sex="M"), [("DX_SEX_CONFLICT", C, "diagnoses[0].icd10_code")], "female-dx-male"),
    case(
        replace(with_dx("C50.921"), sex="F"),
        [("DX_SEX_CONFLICT", C, "diagnoses[0].icd10_code")],
        "male-breast-female",
        EDIT_CTX,
    ),
    case(with_dx("P59.9"), [("DX_AGE_CONFLICT", C, "diagnoses[0].icd10_code")], "newborn-dx-adult", EDIT_CTX),
    case(with_dx("Z00.129"), [("DX_AGE_CONFLICT", C, "diagnoses[0].icd10_code")], "child-exam-adult"),
    case(
        replace(with_dx("Z00.00"), date_of_birth=date(2015, 1, 1)),
        [("DX_AGE_CONFLICT", C, "diagnoses[0].icd10_code")],
        "adult-exam-child",
    ),
    case(
        replace(with_dx("O80"), sex="M", date_of_birth=date(1950, 1, 1)),
        [("DX_SEX_CONFLICT", C, "diagnoses[0].icd10_code"), ("DX_AGE_CONFLICT", C, "diagnoses[0].icd10_code")],
        "maternity-old-male",
        EDIT_CTX,
    ),
]


@pytest.mark.parametrize(("claim", "ctx", "expected"), FAILING)
def test_failing(claim, ctx, expected):
    assert check(claim, ctx) == expected


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param(with_dx("E11.9", "I10", "J45.909"), id="billable"),
        pytest.param(with_dx("E119", "I10"), id="undotted-billable"),
        pytest.param(with_dx("E11.9", "W19.XXXA"), id="external-cause-secondary"),
        pytest.param(replace(with_dx("N40.0"), sex="M"), id="male-dx-male"),
        pytest.param(replace(with_dx("N40.0"), sex="U"), id="sex-unknown-never-conflicts"),
        pytest.param(with_dx("C50.911"), id="female-breast-female"),
        pytest.param(replace(with_dx("O80"), date_of_birth=date(1990, 3, 1)), id="maternity-in-range"),
        pytest.param(replace(with_dx("P59.9"), date_of_birth=date(2025, 5, 20)), id="newborn-dx-newborn"),
        pytest.param(replace(with_dx("Z00.00"), date_of_birth=date(2010, 6, 1)), id="adult-exam-at-15"),
        pytest.param(replace(with_dx("Z00.129"), date_of_birth=date(2007, 6, 2)), id="child-exam-day-before-18"),
        pytest.param(replace(with_dx("P59.9"), date_of_birth=date(2025, 6, 15)), id="dob-after-service-skips-age"),
    ],
)
def test_passing(claim):
    found = [c for c, _, _ in check(claim, EDIT_CTX)]
    assert found in ([], ["DOB_AFTER_SERVICE"])


def test_message_names_code_but_not_demographics():
    claim = replace(with_dx("O80"), sex="M", date_of_birth=date(1950, 1, 1))
    messages = [f.message for f in validate_claim(claim, EDIT_CTX)]
    assert all("'O80'" in m for m in messages)
    assert not any("1950" in m or " 75" in m or "'M'" in m for m in messages)


def test_codes_are_only_judged_when_an_edition_is_loaded():
    assert check(with_dx("E11.99", "E11"), replace(EDIT_CTX, edits=replace(EDITS, icd10=()))) == []


def test_edition_follows_the_service_date():
    older = Icd10Edition(
        "FY2024 (test)", date(2023, 10, 1), date(2024, 9, 30), frozenset({"E11.9"}), frozenset({"E11"})
    )
    editions = (older, EDITION)
    assert edition_for(editions, date(2024, 3, 1)) is older
    assert edition_for(editions, date(2025, 3, 1)) is EDITION
    assert edition_for(editions, date(2020, 1, 1)) is older  # before every edition: the nearest
    assert edition_for(editions, date(2027, 1, 1)) is EDITION  # after every edition: the latest
    ctx = replace(EDIT_CTX, edits=replace(EDITS, icd10=editions))
    # I10 is billable in the FY2025 test edition only: a 2024 claim fails, a 2025 one passes
    early = replace(with_dx("E11.9", "I10"), service_from=date(2024, 3, 1), service_to=date(2024, 3, 1), lines=())
    assert ("ICD10_UNKNOWN", C, "diagnoses[1].icd10_code") in check(early, ctx)
    assert check(with_dx("E11.9", "I10"), ctx) == []


def test_demographic_table_ranges():
    assert [e[3] for e in demographic_edits("O9A.111")] == ["maternity"]
    assert [e[3] for e in demographic_edits("N53.9")] == ["males only"]
    assert demographic_edits("N54") == () and demographic_edits("O99") != ()
    assert demographic_edits("P96.9") and not demographic_edits("P97")
    assert age_at(date(2000, 2, 29), date(2001, 2, 28)) == 0
    assert age_at(date(2000, 2, 29), date(2001, 3, 1)) == 1
