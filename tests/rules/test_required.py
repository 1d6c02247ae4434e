from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from claims_tasks.rules import validate_claim
from claims_tasks.rules.required import REQUIRED_TEXT, REQUIRED_VALUE

from .builders import CTX, case, check, make_claim, with_line

V = "validation"

FAILING = [
    *(case(make_claim(**{name: None}), [("REQUIRED_FIELD", V, name)], f"none-{name}") for name in REQUIRED_TEXT),
    *(case(make_claim(**{name: ""}), [("REQUIRED_FIELD", V, name)], f"empty-{name}") for name in REQUIRED_TEXT),
    *(case(make_claim(**{name: " \t"}), [("REQUIRED_FIELD", V, name)], f"ws-{name}") for name in REQUIRED_TEXT),
    *(case(make_claim(**{name: None}), [("REQUIRED_FIELD", V, name)], f"none-{name}") for name in REQUIRED_VALUE),
    case(
        make_claim(facility_id=None, payer_id=" "),
        [("REQUIRED_FIELD", V, "facility_id"), ("REQUIRED_FIELD", V, "payer_id")],
        "one-failure-per-field",
    ),
    case(make_claim(lines=()), [("LINES_MISSING", V, "lines")], "no-lines"),
    case(make_claim(diagnoses=()), [("DIAGNOSIS_MISSING", V, "diagnoses")], "no-diagnoses"),
    case(with_line(1, procedure_code=None), [("LINE_REQUIRED_FIELD", V, "lines[1].procedure_code")], "no-code"),
    case(
        with_line(0, procedure_code="  "),
        [("LINE_REQUIRED_FIELD", V, "lines[0].procedure_code")],
        "blank-code",
    ),
    case(
        with_line(1, procedure_code=None, revenue_code=" "),
        [("LINE_REQUIRED_FIELD", V, "lines[1].procedure_code")],
        "no-code-blank-revenue",
    ),
    # 837I SV201: a revenue code is four digits (NUBC); the line may have no procedure code at all.
    *(
        case(
            with_line(1, procedure_code=None, revenue_code=code),
            [("REVENUE_CODE_INVALID", V, "lines[1].revenue_code")],
            f"revenue-{code!r}",
        )
        for code in ["120", "01200", "012A", "O120", "0120 ", "\u0660\u0661\u0662\u0660"]
    ),
    case(
        with_line(0, revenue_code="45"),
        [("REVENUE_CODE_INVALID", V, "lines[0].revenue_code")],
        "revenue-bad-beside-procedure",
    ),
    case(with_line(1, units=None), [("LINE_REQUIRED_FIELD", V, "lines[1].units")], "no-units"),
    case(with_line(0, line_charge=None), [("LINE_REQUIRED_FIELD", V, "lines[0].line_charge")], "no-charge"),
    case(make_claim(sex="X"), [("SEX_INVALID", "data_quality", "sex")], "sex-X"),
    case(make_claim(sex="m"), [("SEX_INVALID", "data_quality", "sex")], "sex-lowercase"),
    case(make_claim(sex="Female"), [("SEX_INVALID", "data_quality", "sex")], "sex-word"),
]


@pytest.mark.parametrize(("claim", "ctx", "expected"), FAILING)
def test_failing(claim, ctx, expected):
    assert check(claim, ctx) == expected


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param(make_claim(sex="M"), id="sex-M"),
        pytest.param(make_claim(sex="U"), id="sex-U"),
        pytest.param(make_claim(rendering_npi=None, financial_class=None, place_of_service=None), id="optional"),
        pytest.param(make_claim(patient_account_number=None, prior_auth_number=None), id="not-required"),
        pytest.param(with_line(0, modifiers=(), service_date=None, place_of_service=None), id="line-optional"),
        # An 837I line: revenue code only (0120 room and board), or revenue code and HCPCS together.
        pytest.param(with_line(1, procedure_code=None, modifiers=(), revenue_code="0120"), id="revenue-only"),
        pytest.param(with_line(1, revenue_code="0250"), id="revenue-and-procedure"),
    ],
)
def test_passing(claim):
    assert check(claim) == []


def test_zero_charge_is_a_value_not_a_blank():
    claim = replace(with_line(0, line_charge=Decimal(0)), total_charge=Decimal("50.00"))
    assert check(claim) == []


def test_revenue_code_messages_name_field_and_value():
    missing = validate_claim(with_line(1, procedure_code=None), CTX)
    assert [f.message for f in missing] == ["line 2 has neither a procedure_code nor a revenue_code"]
    bad = validate_claim(with_line(1, procedure_code=None, revenue_code="12X4"), CTX)
    assert [(f.field, f.message) for f in bad] == [
        ("lines[1].revenue_code", "line 2 revenue_code '12X4' is not a 4-digit NUBC revenue code")
    ]


def test_messages_name_the_field_not_the_value():
    claim = make_claim(sex="Q", patient_first_name=" ")
    messages = " ".join(f.message for f in validate_claim(claim, CTX))
    assert "patient_first_name" in messages
    assert "Q" not in messages
