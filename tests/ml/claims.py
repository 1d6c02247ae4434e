"""Hand-built claims for the model's tests: one plain office visit, varied per test."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from claims_tasks.records import Claim, Diagnosis, Line

SERVICE = date(2025, 6, 2)


def line(number: int, code: str, charge: str = "100.00", modifiers: tuple[str, ...] = ()) -> Line:
    return Line(number, code, modifiers, Decimal("1"), Decimal(charge), SERVICE, "11", (1,))


def claim(
    *codes: str | Line,
    dx: tuple[str, ...] = ("E11.9", "I10"),
    age: int = 40,
    lag: int = 10,
    **changes: Any,
) -> Claim:
    """An office claim with these procedure codes (99213 by default), received `lag` days after service."""
    lines = tuple(c if isinstance(c, Line) else line(i, c) for i, c in enumerate(codes or ("99213",), start=1))
    base = Claim(
        claim_id="M0001",
        facility_id="F0001",
        patient_account_number="A1",
        patient_first_name="Jane",
        patient_last_name="Doe",
        date_of_birth=date(SERVICE.year - age, 1, 15),
        sex="F",
        subscriber_id="BCB123456789",
        payer_id="BCBS",
        financial_class="CM",
        billing_npi="1234567893",
        rendering_npi=None,
        place_of_service="11",
        claim_frequency="1",
        service_from=SERVICE,
        service_to=SERVICE,
        total_charge=sum((ln.line_charge or Decimal(0) for ln in lines), Decimal(0)),
        prior_auth_number=None,
        received_at=datetime(SERVICE.year, SERVICE.month, SERVICE.day, 12, tzinfo=UTC) + timedelta(days=lag),
        lines=lines,
        diagnoses=tuple(Diagnosis(i, code) for i, code in enumerate(dx, start=1)),
    )
    return replace(base, **changes)
