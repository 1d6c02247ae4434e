from __future__ import annotations

import pytest

from claims_tasks.rules import npi_check_digit_ok, validate_claim

from .builders import CTX, case, check, make_claim

DQ = "data_quality"

FAILING = [
    case(make_claim(billing_npi="1234567890"), [("NPI_CHECK_DIGIT", DQ, "billing_npi")], "billing-check-digit"),
    case(
        make_claim(rendering_npi="1234567890"),
        [("NPI_CHECK_DIGIT", DQ, "rendering_npi")],
        "rendering-check-digit",
    ),
    *(
        case(make_claim(billing_npi=npi), [("NPI_FORMAT", DQ, "billing_npi")], f"billing-format-{label}")
        for label, npi in [
            ("9-digits", "123456789"),
            ("11-digits", "12345678903"),
            ("first-digit-3", "3234567893"),
            ("first-digit-0", "0234567893"),
            ("letter", "12345678A3"),
            ("leading-space", " 1234567893"),
            ("fullwidth-digits", "１２３４５６７８９３"),
            ("dashes", "123-456-789"),
        ]
    ),
    case(make_claim(rendering_npi="98765"), [("NPI_FORMAT", DQ, "rendering_npi")], "rendering-format"),
    case(
        make_claim(billing_npi="1234567890", rendering_npi="12345"),
        [("NPI_CHECK_DIGIT", DQ, "billing_npi"), ("NPI_FORMAT", DQ, "rendering_npi")],
        "both",
    ),
]


@pytest.mark.parametrize(("claim", "ctx", "expected"), FAILING)
def test_failing(claim, ctx, expected):
    assert check(claim, ctx) == expected


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param(make_claim(billing_npi="1234567893"), id="1234567893"),
        pytest.param(make_claim(billing_npi="1987654328", rendering_npi="1234567893"), id="swapped"),
        pytest.param(make_claim(rendering_npi=None), id="no-rendering"),
        pytest.param(make_claim(rendering_npi=""), id="blank-rendering"),
    ],
)
def test_passing(claim):
    assert check(claim) == []


@pytest.mark.parametrize(
    ("npi", "ok"),
    [("1234567893", True), ("1234567890", False), ("1987654328", True), ("1987654327", False)],
)
def test_check_digit(npi, ok):
    assert npi_check_digit_ok(npi) is ok


def test_exactly_one_check_digit_per_stem():
    stem = "124531959"
    assert [d for d in "0123456789" if npi_check_digit_ok(stem + d)] == ["9"]


def test_message_names_field_and_value():
    [failure] = validate_claim(make_claim(billing_npi="1234567890"), CTX)
    assert failure.message == "billing_npi '1234567890' fails the Luhn check digit (80840 prefix)"
