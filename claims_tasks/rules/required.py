"""Presence checks: the fields a claim cannot be adjudicated without, and the sex code.

Source: the required data elements of the ASC X12N 837P (005010X222A1) claim and the CMS-1500 form
(items 1a, 2, 3, 24A-24G, 28, 33a); the claim_lines / claim_diagnoses columns of DESIGN §3.
"""

from __future__ import annotations

from operator import attrgetter

from claims_tasks.records import Claim, RuleFailure

from .catalogue import failure
from .context import RuleContext

# Text fields: None, "" and whitespace-only all count as missing.
REQUIRED_TEXT: tuple[str, ...] = (
    "facility_id",
    "patient_first_name",
    "patient_last_name",
    "sex",
    "subscriber_id",
    "payer_id",
    "billing_npi",
    "claim_frequency",
)
# Typed fields (dates, money): only None is missing; Decimal("0") is a value, not a blank.
REQUIRED_VALUE: tuple[str, ...] = ("date_of_birth", "service_from", "service_to", "total_charge")

SEX_CODES: frozenset[str] = frozenset({"M", "F", "U"})

_get_text = attrgetter(*REQUIRED_TEXT)
_get_value = attrgetter(*REQUIRED_VALUE)


def blank(value: str | None) -> bool:
    """True for None, "" and whitespace-only text."""
    return not value or value.isspace()


def check_required_fields(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """REQUIRED_FIELD: one failure per missing claim-level field.

    Source: X12 837P required elements (subscriber NM1, payer NM1, billing provider NM109, CLM05-3
    frequency, DTP*472 service dates, CLM02 total charge) and the CMS-1500 items that carry them.
    """
    for value in _get_text(claim):
        if not value or value.isspace():
            break
    else:
        if None not in _get_value(claim):
            return []  # the common case: one C-level getter per group, no names touched
    out: list[RuleFailure] = []
    for name in REQUIRED_TEXT:
        if blank(getattr(claim, name)):
            out.append(failure("REQUIRED_FIELD", name, f"{name} is missing or blank"))
    for name in REQUIRED_VALUE:
        if getattr(claim, name) is None:
            out.append(failure("REQUIRED_FIELD", name, f"{name} is missing"))
    return out


def check_lines_present(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """LINES_MISSING, DIAGNOSIS_MISSING, LINE_REQUIRED_FIELD: a claim needs lines, diagnoses, and each line
    a procedure code or a revenue code, units and a charge.

    Source: X12 837P loop 2400 (at least one service line, SV101-2 procedure, SV102 charge, SV104 units)
    and HI segment (at least one diagnosis); CMS-1500 items 21 and 24D-24G. X12 837I (005010X223A2) loop
    2400: SV201 revenue code is required and SV202 procedure situational (room and board 0120 comes
    without HCPCS); UB-04 form locators 42-44. A line with neither is reported on its procedure_code.
    Fields of lines are named by position in claim.lines, e.g. "lines[2].units" is the third line.
    """
    out: list[RuleFailure] = []
    if not claim.lines:
        out.append(failure("LINES_MISSING", "lines", "the claim has no service lines"))
    if not claim.diagnoses:
        out.append(failure("DIAGNOSIS_MISSING", "diagnoses", "the claim has no diagnoses"))
    for i, line in enumerate(claim.lines):
        code = line.procedure_code
        if (not code or code.isspace()) and blank(line.revenue_code):
            out.append(
                failure(
                    "LINE_REQUIRED_FIELD",
                    f"lines[{i}].procedure_code",
                    f"line {line.line_number} has neither a procedure_code nor a revenue_code",
                )
            )
        if line.units is None:
            out.append(_line_missing(i, line.line_number, "units"))
        if line.line_charge is None:
            out.append(_line_missing(i, line.line_number, "line_charge"))
    return out


def _line_missing(index: int, line_number: int, name: str) -> RuleFailure:
    return failure("LINE_REQUIRED_FIELD", f"lines[{index}].{name}", f"line {line_number} {name} is missing or blank")


def check_sex(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """SEX_INVALID: patient sex, when present, must be M, F or U (the value is not echoed: patient data).

    Source: X12 837P DMG03 gender code (F, M, U); CMS-1500 item 3.
    """
    sex = claim.sex
    if sex is None or sex in SEX_CODES or blank(sex):
        return []
    return [failure("SEX_INVALID", "sex", "sex is not one of M, F, U")]
