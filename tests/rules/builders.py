"""One valid claim and context, varied per test with dataclasses.replace."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from claims_tasks.records import Claim, Diagnosis, Line, RuleFailure
from claims_tasks.rules import EditTables, Icd10Edition, RuleContext, validate_claim

TODAY = date(2025, 6, 30)

CTX = RuleContext(
    today=TODAY,
    timely_filing_days=365,
    facilities=frozenset({"FAC01", "FAC02"}),
    payers=frozenset({"PAY01", "PAY02"}),
    financial_classes=frozenset({"COM", "MCR"}),
    known_procedures=frozenset({"99213", "J1100"}),
)
# EDIT_CTX (below) is CTX with the edit tables loaded.


def make_line(**changes: Any) -> Line:
    base = Line(
        line_number=1,
        procedure_code="99213",
        modifiers=("25",),
        units=Decimal("1"),
        line_charge=Decimal("100.00"),
        service_date=date(2025, 6, 1),
        place_of_service="11",
        diagnosis_pointers=(1, 2),
    )
    return replace(base, **changes)


def make_claim(**changes: Any) -> Claim:
    base = Claim(
        claim_id="C-0001",
        facility_id="FAC01",
        patient_account_number="ACCT-1",
        patient_first_name="Jane",
        patient_last_name="Doe",
        date_of_birth=date(1980, 2, 14),
        sex="F",
        subscriber_id="SUB123",
        payer_id="PAY01",
        financial_class="COM",
        billing_npi="1234567893",
        rendering_npi="1987654328",
        place_of_service="11",
        claim_frequency="1",
        service_from=date(2025, 6, 1),
        service_to=date(2025, 6, 2),
        total_charge=Decimal("150.00"),
        prior_auth_number=None,
        received_at=datetime(2025, 6, 10, 14, 30, tzinfo=UTC),
        lines=(
            make_line(),
            make_line(
                line_number=2,
                procedure_code="J1100",
                modifiers=("JW",),
                units=Decimal("2"),
                line_charge=Decimal("50.00"),
                service_date=date(2025, 6, 2),
                diagnosis_pointers=(1,),
            ),
        ),
        diagnoses=(Diagnosis(1, "E11.9"), Diagnosis(2, "I10")),
    )
    return replace(base, **changes)


def with_line(index: int, **changes: Any) -> Claim:
    """The valid claim with line `index` changed."""
    claim = make_claim()
    lines = list(claim.lines)
    lines[index] = replace(lines[index], **changes)
    return replace(claim, lines=tuple(lines))


def triples(failures: list[RuleFailure]) -> list[tuple[str, str, str]]:
    return [(f.code, f.category, f.field) for f in failures]


def case(claim: Claim, expected: list[tuple[str, str, str]], id: str, ctx: RuleContext = CTX) -> Any:
    """A failing case: the claim, the context, and the exact (code, category, field) list it yields."""
    return pytest.param(claim, ctx, expected, id=id)


def check(claim: Claim, ctx: RuleContext = CTX) -> list[tuple[str, str, str]]:
    """(code, category, field) of every failure of the claim under the full rule set."""
    return triples(validate_claim(claim, ctx))


# A small ICD-10-CM edition and edit tables for the catalogue's data-driven edits (the real tables are
# loaded and checked in tests/test_reference_cache.py).
EDITION = Icd10Edition(
    name="FY2025 (test)",
    valid_from=date(2024, 10, 1),
    valid_to=date(2025, 9, 30),
    billable=frozenset(
        {
            "E11.9",
            "I10",
            "J45.909",
            "W19.XXXA",
            "V43.52XA",
            "N40.0",
            "N95.1",
            "O80",
            "P59.9",
            "Z00.00",
            "Z00.129",
            "C50.911",
            "C50.921",
            "Z12.5",
            "M54.50",
            "A09",
        }
    ),
    headers=frozenset({"E11", "J45", "J45.9", "J45.90", "M54", "M54.5", "W19", "I25"}),
)
EDITS = EditTables(
    icd10=(EDITION,),
    known_procedures=frozenset({"H0003", "T1017", "72148", "97530", "97140", "80053", "82947"}),
    modifiers=frozenset({"25", "59", "JW", "LT", "RT", "XE", "XS", "XP", "XU", "GP", "76"}),
    mue={"99213": (1, 2), "J1100": (10, 3), "97530": (6, 2), "80053": (1, 2), "H0003": (4, 1), "72148": (1, 2)},
    ncci={("97530", "97140"): 1, ("80053", "82947"): 0},
    prior_auth=frozenset({("PAY01", "72148")}),
)
EDIT_CTX = replace(CTX, edits=EDITS)
