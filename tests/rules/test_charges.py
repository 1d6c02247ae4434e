from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from claims_tasks.rules import validate_claim

from .builders import CTX, case, check, make_claim, with_line

V, DQ = "validation", "data_quality"
D = Decimal

FAILING = [
    case(make_claim(total_charge=D("-150.00")), [("CHARGE_NEGATIVE", V, "total_charge")], "total-negative"),
    case(
        replace(with_line(1, line_charge=D("-50.00")), total_charge=D("50.00")),
        [("CHARGE_NEGATIVE", V, "lines[1].line_charge")],
        "line-negative",
    ),
    case(make_claim(total_charge=D("149.99")), [("CHARGE_TOTAL_MISMATCH", V, "total_charge")], "total-short"),
    case(make_claim(total_charge=D("150.01")), [("CHARGE_TOTAL_MISMATCH", V, "total_charge")], "total-over"),
    case(
        make_claim(total_charge=D("10000000000.00")),
        [("CHARGE_OUT_OF_RANGE", DQ, "total_charge")],
        "total-over-numeric-12-2",
    ),
    case(
        with_line(0, line_charge=D("10000000000")),
        [("CHARGE_OUT_OF_RANGE", DQ, "lines[0].line_charge")],
        "line-over-numeric-12-2",
    ),
    case(make_claim(total_charge=D("NaN")), [("CHARGE_OUT_OF_RANGE", DQ, "total_charge")], "total-nan"),
    case(make_claim(total_charge=D("Infinity")), [("CHARGE_OUT_OF_RANGE", DQ, "total_charge")], "total-inf"),
    case(with_line(0, line_charge=D("NaN")), [("CHARGE_OUT_OF_RANGE", DQ, "lines[0].line_charge")], "line-nan"),
    *(
        case(with_line(0, units=D(u)), [("UNITS_INVALID", V, "lines[0].units")], f"units-{u}")
        for u in ["0", "-1", "10000", "9999.01", "NaN", "Infinity"]
    ),
]


@pytest.mark.parametrize(("claim", "ctx", "expected"), FAILING)
def test_failing(claim, ctx, expected):
    assert check(claim, ctx) == expected


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param(make_claim(total_charge=D("150")), id="equal-other-exponent"),
        pytest.param(
            replace(with_line(0, line_charge=D("9999999949.99")), total_charge=D("9999999999.99")),
            id="max-numeric-12-2",
        ),
        pytest.param(with_line(0, units=D("9999")), id="units-max"),
        pytest.param(with_line(0, units=D("0.5")), id="units-fraction"),
    ],
)
def test_passing(claim):
    assert check(claim) == []


def test_no_mismatch_when_a_line_charge_is_missing():
    assert [c for c, _, _ in check(with_line(0, line_charge=None))] == ["LINE_REQUIRED_FIELD"]


def test_mismatch_message_shows_amounts():
    [failure] = validate_claim(make_claim(total_charge=D("149.99")), CTX)
    assert failure.message == "total_charge 149.99 differs from the sum of line charges 150.00"
