from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from claims_tasks.rules import validate_claim

from .builders import CTX, EDIT_CTX, EDITS, case, check, make_claim, make_line, with_line

C, E = "coding", "eligibility"


def two_lines(first: dict, second: dict, **claim: object) -> object:
    """A claim of two lines (charges 100 + 50 as the base claim's total; line 2 on 2025-06-02 unless set)."""
    return make_claim(
        lines=(
            make_line(**{"modifiers": (), **first}),
            make_line(
                **{
                    "line_number": 2,
                    "line_charge": Decimal("50.00"),
                    "modifiers": (),
                    "service_date": date(2025, 6, 2),
                    **second,
                }
            ),
        ),
        **claim,
    )


FAILING = [
    case(with_line(1, procedure_code="99999"), [("CPT_UNKNOWN", C, "lines[1].procedure_code")], "unknown", EDIT_CTX),
    case(with_line(1, procedure_code="G9999"), [("CPT_UNKNOWN", C, "lines[1].procedure_code")], "unknown-hcpcs", CTX),
    case(with_line(0, modifiers=("ZZ",)), [("MODIFIER_INVALID", C, "lines[0].modifiers")], "modifier", EDIT_CTX),
    case(
        with_line(0, modifiers=("25", "QQ", "LT")),
        [("MODIFIER_INVALID", C, "lines[0].modifiers")],
        "modifier-among-valid",
        EDIT_CTX,
    ),
    case(with_line(0, units=Decimal(2)), [("MUE_EXCEEDED", C, "lines[0].units")], "mue-mai2-line", EDIT_CTX),
    case(
        two_lines(
            {"procedure_code": "97530", "units": Decimal(4)},
            {"procedure_code": "97530", "units": Decimal(3), "service_date": date(2025, 6, 1)},
        ),
        [("MUE_EXCEEDED", C, "lines[1].units")],
        "mue-mai2-day",
        EDIT_CTX,
    ),
    case(
        two_lines(
            {"procedure_code": "H0003", "units": Decimal(5)},
            {"procedure_code": "H0003", "service_date": date(2025, 6, 2)},
        ),
        [("MUE_EXCEEDED", C, "lines[0].units")],
        "mue-mai1-line",
        EDIT_CTX,
    ),
    case(with_line(1, units=Decimal(11)), [("MUE_EXCEEDED", C, "lines[1].units")], "mue-mai3", EDIT_CTX),
    case(
        two_lines(
            {"procedure_code": "97530", "modifiers": ("GP",)},
            {"procedure_code": "97140", "modifiers": ("GP",), "service_date": date(2025, 6, 1)},
        ),
        [("NCCI_PTP_CONFLICT", C, "lines[1].procedure_code")],
        "ncci-1-no-bypass",
        EDIT_CTX,
    ),
    case(
        two_lines(
            {"procedure_code": "82947", "modifiers": ("59",)},
            {"procedure_code": "80053", "service_date": date(2025, 6, 1)},
        ),
        [("NCCI_PTP_CONFLICT", C, "lines[0].procedure_code")],
        "ncci-0-bypass-ignored",
        EDIT_CTX,
    ),
    case(
        two_lines(
            {"procedure_code": "97530", "modifiers": ("59",)},
            {"procedure_code": "97140", "service_date": date(2025, 6, 1)},
        ),
        [("NCCI_PTP_CONFLICT", C, "lines[1].procedure_code")],
        "ncci-1-bypass-on-column-one",
        EDIT_CTX,
    ),
    case(
        with_line(1, procedure_code="72148", modifiers=(), units=Decimal(1)),
        [("PRIOR_AUTH_MISSING", E, "prior_auth_number")],
        "prior-auth",
        EDIT_CTX,
    ),
    case(
        replace(with_line(1, procedure_code="72148", modifiers=(), units=Decimal(1)), prior_auth_number="  "),
        [("PRIOR_AUTH_MISSING", E, "prior_auth_number")],
        "prior-auth-blank",
        EDIT_CTX,
    ),
]


@pytest.mark.parametrize(("claim", "ctx", "expected"), FAILING)
def test_failing(claim, ctx, expected):
    assert check(claim, ctx) == expected


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param(make_claim(), id="base"),
        pytest.param(with_line(1, procedure_code="H0003", modifiers=()), id="unpriced-known-hcpcs"),
        pytest.param(with_line(1, procedure_code="T1017", modifiers=()), id="unpriced-t-code"),
        pytest.param(with_line(0, modifiers=("25", "LT", "XS", "76")), id="valid-modifiers"),
        pytest.param(with_line(1, units=Decimal(10)), id="mue-at-limit"),
        pytest.param(
            two_lines(
                {"procedure_code": "97530", "units": Decimal(3)},
                {"procedure_code": "97530", "units": Decimal(3), "service_date": date(2025, 6, 1)},
            ),
            id="mue-mai2-day-at-limit",
        ),
        pytest.param(
            two_lines(
                {"procedure_code": "97530", "units": Decimal(6)},
                {"procedure_code": "97530", "units": Decimal(6), "service_date": date(2025, 6, 2)},
            ),
            id="mue-mai2-two-days",
        ),
        pytest.param(
            two_lines(
                {"procedure_code": "H0003", "units": Decimal(4)},
                {"procedure_code": "H0003", "units": Decimal(4), "service_date": date(2025, 6, 1)},
            ),
            id="mue-mai1-per-line-only",
        ),
        *(
            pytest.param(
                two_lines(
                    {"procedure_code": "97530", "modifiers": ("GP",)},
                    {"procedure_code": "97140", "modifiers": ("GP", bypass), "service_date": date(2025, 6, 1)},
                ),
                id=f"ncci-1-bypass-{bypass}",
            )
            for bypass in ("59", "XE", "XS", "XP", "XU")
        ),
        pytest.param(two_lines({"procedure_code": "80053"}, {"procedure_code": "82947"}), id="ncci-0-different-dates"),
        pytest.param(
            replace(with_line(1, procedure_code="72148", modifiers=(), units=Decimal(1)), prior_auth_number="PA123"),
            id="prior-auth-present",
        ),
        pytest.param(
            replace(with_line(1, procedure_code="72148", modifiers=(), units=Decimal(1)), payer_id="PAY02"),
            id="prior-auth-other-payer",
        ),
    ],
)
def test_passing(claim):
    assert check(claim, EDIT_CTX) == []


def test_empty_tables_skip_their_edits():
    claim = two_lines(
        {"procedure_code": "82947", "modifiers": ("ZZ",)},
        {"procedure_code": "80053", "service_date": date(2025, 6, 1)},
    )
    claim = replace(claim, payer_id="PAY01")
    assert {c for c, _, _ in check(claim, EDIT_CTX)} == {"MODIFIER_INVALID", "NCCI_PTP_CONFLICT"}
    bare = replace(CTX, known_procedures=frozenset())
    assert check(claim, bare) == []


def test_unpriced_code_is_valid_but_not_counted_in_reimbursement():
    from claims_tasks.pipeline import expected_reimbursement

    claim = with_line(1, procedure_code="T1017", modifiers=())
    assert check(claim, EDIT_CTX) == []
    assert expected_reimbursement(claim, {"99213": Decimal("92.50")}) == Decimal("92.50")


def test_messages_name_code_and_value():
    claim = with_line(0, units=Decimal(2), modifiers=("ZZ",))
    messages = {f.code: f.message for f in validate_claim(claim, EDIT_CTX)}
    assert "'99213'" in messages["MUE_EXCEEDED"] and "2 units" in messages["MUE_EXCEEDED"]
    assert "'ZZ'" in messages["MODIFIER_INVALID"]
    assert EDITS.ncci_codes == {"97530", "97140", "80053", "82947"}


def test_revenue_code_only_lines_skip_the_procedure_edits():
    # An inpatient claim (837I): no line has a procedure code; two on one date, payer PAY01 has a prior-auth
    # table, and the MUE/NCCI tables are loaded. Nothing to flag, nothing raised (no SYSTEM_RULE_ERROR).
    inpatient = two_lines(
        {"procedure_code": None, "revenue_code": "0120", "units": Decimal(3)},
        {"procedure_code": None, "revenue_code": "0250", "service_date": date(2025, 6, 1)},
        payer_id="PAY01",
    )
    assert check(inpatient, EDIT_CTX) == []
    # Beside a procedure line, that line's edits still fire, once, naming it.
    mixed = two_lines(
        {"procedure_code": "72148", "units": Decimal(1)},
        {"procedure_code": None, "revenue_code": "0120"},
        payer_id="PAY01",
    )
    assert check(mixed, EDIT_CTX) == [("PRIOR_AUTH_MISSING", E, "prior_auth_number")]
