from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from claims_tasks.rules import DuplicateIndex, validate_chunk, validate_claim
from claims_tasks.rules.duplicates import chunk_keys, line_keys, within_chunk

from .builders import CTX, case, check, make_claim, with_line

D = "duplicate"
ORIGINAL = make_claim(claim_id="C-0001")
LATER = replace(ORIGINAL, claim_id="C-0002", patient_account_number="ACCT-2")


def ctx_for(*claims):
    return replace(CTX, duplicates=within_chunk(claims))


def billed_as(claim, holders):
    return {key: holders for _, key in line_keys(claim)}


FAILING = [
    case(
        LATER,
        [("DUPLICATE_CLAIM", D, "lines[0]"), ("DUPLICATE_CLAIM", D, "lines[1]")],
        "later-claim",
        ctx_for(ORIGINAL, LATER),
    ),
    case(
        LATER,
        [("DUPLICATE_CLAIM", D, "lines[0]"), ("DUPLICATE_CLAIM", D, "lines[1]")],
        "later-claim-first-in-chunk",
        ctx_for(LATER, ORIGINAL),
    ),
    case(
        replace(LATER, lines=(replace(LATER.lines[0], modifiers=()), LATER.lines[1])),
        [("DUPLICATE_CLAIM", D, "lines[1]")],
        "one-line-repeated",
        ctx_for(ORIGINAL, replace(LATER, lines=(replace(LATER.lines[0], modifiers=()), LATER.lines[1]))),
    ),
    case(
        ORIGINAL,
        [("DUPLICATE_IN_PRODUCTION", D, "lines[0]"), ("DUPLICATE_IN_PRODUCTION", D, "lines[1]")],
        "in-production",
        replace(
            CTX, duplicates=within_chunk([ORIGINAL], DuplicateIndex(billed=billed_as(ORIGINAL, ("C-0000", "C-0000"))))
        ),
    ),
    case(
        ORIGINAL,
        [("DUPLICATE_IN_PRODUCTION", D, "lines[0]"), ("DUPLICATE_IN_PRODUCTION", D, "lines[1]")],
        "in-production-besides-itself",
        replace(
            CTX, duplicates=within_chunk([ORIGINAL], DuplicateIndex(billed=billed_as(ORIGINAL, ("C-0001", "C-0009"))))
        ),
    ),
]


@pytest.mark.parametrize(("claim", "ctx", "expected"), FAILING)
def test_failing(claim, ctx, expected):
    assert check(claim, ctx) == expected


def test_the_earlier_claim_passes_whatever_the_order():
    for chunk in ([ORIGINAL, LATER], [LATER, ORIGINAL]):
        ctx = ctx_for(*chunk)
        results = validate_chunk(chunk, ctx)
        assert results["C-0001"] == []
        assert {f.code for f in results["C-0002"]} == {"DUPLICATE_CLAIM"}
        assert "claim C-0001" in results["C-0002"][0].message


def test_a_claim_never_matches_itself():
    assert check(ORIGINAL, ctx_for(ORIGINAL)) == []
    only_self = within_chunk([ORIGINAL], DuplicateIndex(billed=billed_as(ORIGINAL, ("C-0001", "C-0001"))))
    assert check(ORIGINAL, replace(CTX, duplicates=only_self)) == []


@pytest.mark.parametrize(
    "later",
    [
        pytest.param(replace(LATER, claim_frequency="7"), id="replacement"),
        pytest.param(replace(LATER, claim_frequency="8"), id="void"),
        pytest.param(replace(LATER, subscriber_id="SUB999"), id="other-patient"),
        pytest.param(replace(LATER, rendering_npi="1245319599"), id="other-provider"),
        pytest.param(
            replace(
                LATER,
                lines=tuple(replace(ln, line_charge=ln.line_charge + 1) for ln in LATER.lines),
                total_charge=Decimal("152.00"),
            ),
            id="other-charge",
        ),
        pytest.param(
            replace(LATER, lines=(replace(LATER.lines[0], modifiers=("76",)), LATER.lines[1]), claim_id="C-0000"),
            id="earlier-id-wins",
        ),
    ],
)
def test_not_duplicates(later):
    ctx = ctx_for(ORIGINAL, later)
    assert [f.code for f in validate_claim(later, ctx) if f.category == D] == []


def test_a_void_is_never_the_original():
    void = replace(ORIGINAL, claim_id="C-0000", claim_frequency="8")
    assert check(ORIGINAL, ctx_for(void, ORIGINAL)) == []


def test_key_ignores_modifier_order_and_uses_billing_npi_without_rendering():
    a = with_line(0, modifiers=("25", "59"))
    b = replace(with_line(0, modifiers=("59", "25")), claim_id="C-0002")
    assert [k for _, k in line_keys(a)] == [k for _, k in line_keys(b)]
    no_rendering = replace(a, rendering_npi=None)
    assert next(line_keys(no_rendering))[1][2] == a.billing_npi
    assert chunk_keys([a, replace(b, claim_frequency="7")]) == {k for _, k in line_keys(a)}
    assert list(line_keys(replace(a, subscriber_id=None))) == []


def test_revenue_code_only_lines_are_not_keyed():
    # The duplicate key is procedure based; a line with a revenue code only has no key and matches nothing.
    lines = tuple(replace(ln, procedure_code=None, modifiers=(), revenue_code="0120") for ln in ORIGINAL.lines)
    inpatient = replace(ORIGINAL, lines=lines)
    again = replace(inpatient, claim_id="C-0002")
    assert list(line_keys(inpatient)) == []
    assert check(again, ctx_for(inpatient, again)) == []
    assert validate_chunk([inpatient, again], ctx_for(inpatient, again)) == {"C-0001": [], "C-0002": []}
