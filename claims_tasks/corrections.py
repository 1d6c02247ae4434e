"""Corrections an operator makes to a claim: `field=value` edits, parsed and applied as pure functions.

Used by resubmit/reprocess (staging claims) and amendments (production claims). Values arrive as text
(CLI flags, JSON bodies) and are converted to the field's type here, with a clear error naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from claims_tasks.errors import ClaimsError
from claims_tasks.records import Claim

# Fields an operator may correct. claim_id, facility routing and receipt stay as received.
CLAIM_EDITABLE = {
    "patient_account_number": str,
    "patient_first_name": str,
    "patient_last_name": str,
    "date_of_birth": date,
    "sex": str,
    "subscriber_id": str,
    "payer_id": str,
    "financial_class": str,
    "billing_npi": str,
    "rendering_npi": str,
    "place_of_service": str,
    "service_from": date,
    "service_to": date,
    "total_charge": Decimal,
    "prior_auth_number": str,
}
LINE_EDITABLE = {
    "procedure_code": str,
    "modifiers": tuple,
    "units": Decimal,
    "line_charge": Decimal,
    "service_date": date,
    "place_of_service": str,
    "revenue_code": str,  # an operator fixes REVENUE_CODE_INVALID like any other line code
}
DIAGNOSIS_EDITABLE = {"icd10_code": str}


def _convert(name: str, kind: type, raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "null")):
        return () if kind is tuple else None
    text = str(raw).strip()
    try:
        if kind is date:
            return raw if isinstance(raw, date) and not isinstance(raw, datetime) else date.fromisoformat(text)
        if kind is Decimal:
            value = Decimal(text)
            if not value.is_finite():
                raise InvalidOperation
            return value
        if kind is tuple:
            items = raw if isinstance(raw, list | tuple) else text.split(",")
            return tuple(str(m).strip() for m in items if str(m).strip())
    except (ValueError, InvalidOperation):
        raise ClaimsError(f"{name}: {text[:40]!r} is not a valid {kind.__name__}") from None
    return text


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """['sex=F', 'total_charge=120.00'] -> {'sex': 'F', ...}; each must be field=value."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ClaimsError(f"expected field=value, got {pair!r}")
        out[name.strip()] = value
    return out


def parse_line_assignments(pairs: list[str]) -> dict[int, dict[str, str]]:
    """['2:units=1', '1:procedure_code=99213'] -> {2: {'units': '1'}, 1: {...}}."""
    out: dict[int, dict[str, str]] = {}
    for pair in pairs:
        number, sep, rest = pair.partition(":")
        if not sep or not number.strip().isdigit():
            raise ClaimsError(f"expected LINE:field=value, got {pair!r}")
        out.setdefault(int(number), {}).update(parse_assignments([rest]))
    return out


def apply_corrections(
    claim: Claim,
    changes: Mapping[str, Any] | None = None,
    line_changes: Mapping[int, Mapping[str, Any]] | None = None,
    diagnosis_changes: Mapping[int, Mapping[str, Any]] | None = None,
) -> tuple[Claim, list[str]]:
    """The corrected claim and the names of the fields that changed (for the audit, never values)."""
    changed: list[str] = []
    fields: dict[str, Any] = {}
    for name, raw in (changes or {}).items():
        if name not in CLAIM_EDITABLE:
            raise ClaimsError(f"{name!r} cannot be corrected (editable: {', '.join(sorted(CLAIM_EDITABLE))})")
        value = _convert(name, CLAIM_EDITABLE[name], raw)
        if value != getattr(claim, name):
            fields[name] = value
            changed.append(name)
    lines = list(claim.lines)
    by_number = {ln.line_number: i for i, ln in enumerate(lines)}
    for number, edits in (line_changes or {}).items():
        if number not in by_number:
            raise ClaimsError(f"claim {claim.claim_id} has no line {number}")
        i = by_number[number]
        for name, raw in edits.items():
            if name not in LINE_EDITABLE:
                raise ClaimsError(f"line field {name!r} cannot be corrected")
            value = _convert(f"lines[{number}].{name}", LINE_EDITABLE[name], raw)
            if value != getattr(lines[i], name):
                lines[i] = replace(lines[i], **{name: value})
                changed.append(f"lines[{number}].{name}")
    diagnoses = list(claim.diagnoses)
    by_sequence = {d.sequence: i for i, d in enumerate(diagnoses)}
    for sequence, edits in (diagnosis_changes or {}).items():
        if sequence not in by_sequence:
            raise ClaimsError(f"claim {claim.claim_id} has no diagnosis {sequence}")
        i = by_sequence[sequence]
        for name, raw in edits.items():
            if name not in DIAGNOSIS_EDITABLE:
                raise ClaimsError(f"diagnosis field {name!r} cannot be corrected")
            value = _convert(f"diagnoses[{sequence}].{name}", DIAGNOSIS_EDITABLE[name], raw)
            if value != getattr(diagnoses[i], name):
                diagnoses[i] = replace(diagnoses[i], **{name: value})
                changed.append(f"diagnoses[{sequence}].{name}")
    return replace(claim, **fields, lines=tuple(lines), diagnoses=tuple(diagnoses)), changed
