from __future__ import annotations

import pytest

from claims_tasks.rules import RuleContext

from .builders import TODAY, case, check, make_claim

E = "eligibility"

FAILING = [
    case(make_claim(facility_id="FAC99"), [("FACILITY_UNKNOWN", E, "facility_id")], "facility"),
    case(make_claim(facility_id="fac01"), [("FACILITY_UNKNOWN", E, "facility_id")], "facility-case"),
    case(make_claim(payer_id="PAY99"), [("PAYER_UNKNOWN", E, "payer_id")], "payer"),
    case(
        make_claim(financial_class="XXX"),
        [("FINANCIAL_CLASS_UNKNOWN", E, "financial_class")],
        "financial-class",
    ),
    case(
        make_claim(facility_id="FAC99", payer_id="PAY99", financial_class="XXX"),
        [
            ("FACILITY_UNKNOWN", E, "facility_id"),
            ("PAYER_UNKNOWN", E, "payer_id"),
            ("FINANCIAL_CLASS_UNKNOWN", E, "financial_class"),
        ],
        "all-three",
    ),
]


@pytest.mark.parametrize(("claim", "ctx", "expected"), FAILING)
def test_failing(claim, ctx, expected):
    assert check(claim, ctx) == expected


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param(make_claim(facility_id="FAC02", payer_id="PAY02", financial_class="MCR"), id="other-known"),
        pytest.param(make_claim(financial_class=None), id="no-financial-class"),
        pytest.param(make_claim(financial_class=" "), id="blank-financial-class"),
    ],
)
def test_passing(claim):
    assert check(claim) == []


def test_empty_reference_sets_skip_the_checks():
    claim = make_claim(facility_id="FAC99", payer_id="PAY99", financial_class="XXX")
    assert check(claim, RuleContext(today=TODAY)) == []


def test_each_set_is_skipped_independently():
    claim = make_claim(facility_id="FAC99", payer_id="PAY99")
    ctx = RuleContext(today=TODAY, payers=frozenset({"PAY01"}))
    assert [c for c, _, _ in check(claim, ctx)] == ["PAYER_UNKNOWN"]


def test_a_loaded_table_is_checked_even_when_none_of_the_chunks_ids_is_active():
    # A worker's sets hold only the active ids among the chunk's (claims_tasks/reference_cache.py): empty
    # there, with the table loaded in production, means none is active, not "skip".
    claim = make_claim(facility_id="FAC99", payer_id="PAY99", financial_class="XXX")
    ctx = RuleContext(today=TODAY, reference_loaded=frozenset({"facilities", "financial_classes"}))
    assert [c for c, _, _ in check(claim, ctx)] == ["FACILITY_UNKNOWN", "FINANCIAL_CLASS_UNKNOWN"]
