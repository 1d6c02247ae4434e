"""Automated repairs: explicit, named, logged fixes for the mechanical defects a claims team sees every day.

Each repair is a pure function Claim -> (Claim, fields changed) that changes nothing when it does not apply.
A repaired claim is validated again with the full rule set; it goes to production only if it passes.
Repairs never guess at clinical content: they normalise formats, swap dates that are plainly swapped and
recompute a total only when every line charge is present.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from claims_tasks.records import Claim, RuleFailure

RepairFn = Callable[[Claim], tuple[Claim, tuple[str, ...]]]


@dataclass(frozen=True)
class Repair:
    code: str
    description: str
    fn: RepairFn


@dataclass(frozen=True)
class RepairResult:
    claim: Claim
    applied: tuple[dict[str, object], ...]  # [{"repair": code, "fields": [...]}]

    @property
    def changed(self) -> bool:
        return bool(self.applied)


def _clean_code(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = "".join(value.split()).upper()
    return cleaned or None


def normalise_diagnosis_codes(claim: Claim) -> tuple[Claim, tuple[str, ...]]:
    """ICD-10-CM codes with stray whitespace or lower case ('e11 .9' -> 'E11.9')."""
    fields = []
    diagnoses = []
    for i, dx in enumerate(claim.diagnoses):
        code = _clean_code(dx.icd10_code)
        if code != dx.icd10_code and code is not None:
            fields.append(f"diagnoses[{i}].icd10_code")
            dx = replace(dx, icd10_code=code)
        diagnoses.append(dx)
    return (replace(claim, diagnoses=tuple(diagnoses)), tuple(fields)) if fields else (claim, ())


def normalise_procedure_codes(claim: Claim) -> tuple[Claim, tuple[str, ...]]:
    """CPT/HCPCS codes and modifiers with whitespace or lower case ('j1100 ' -> 'J1100', 'rt' -> 'RT')."""
    fields = []
    lines = []
    for i, line in enumerate(claim.lines):
        code = _clean_code(line.procedure_code)
        mods = tuple(m for m in (_clean_code(m) for m in line.modifiers) if m)
        if code != line.procedure_code and code is not None:
            fields.append(f"lines[{i}].procedure_code")
            line = replace(line, procedure_code=code)
        if mods != line.modifiers:
            fields.append(f"lines[{i}].modifiers")
            line = replace(line, modifiers=mods)
        lines.append(line)
    return (replace(claim, lines=tuple(lines)), tuple(fields)) if fields else (claim, ())


def strip_identifier_whitespace(claim: Claim) -> tuple[Claim, tuple[str, ...]]:
    """NPIs, POS and sex with stray whitespace or lower case (' 1234567893' -> '1234567893', 'f' -> 'F')."""
    changes: dict[str, object] = {}
    for name in ("billing_npi", "rendering_npi", "place_of_service", "sex", "claim_frequency"):
        value = getattr(claim, name)
        cleaned = _clean_code(value)
        if value is not None and cleaned != value and cleaned is not None:
            changes[name] = cleaned
    return (replace(claim, **changes), tuple(changes)) if changes else (claim, ())  # type: ignore[arg-type]


def swap_inverted_dates(claim: Claim) -> tuple[Claim, tuple[str, ...]]:
    """service_from after service_to, with every line date inside the swapped range: the two were swapped."""
    start, end = claim.service_from, claim.service_to
    if start is None or end is None or start <= end:
        return claim, ()
    if any(ln.service_date is not None and not end <= ln.service_date <= start for ln in claim.lines):
        return claim, ()
    return replace(claim, service_from=end, service_to=start), ("service_from", "service_to")


def recompute_total(claim: Claim) -> tuple[Claim, tuple[str, ...]]:
    """total_charge differs from the sum of line charges while every line charge is present and not negative:
    the lines are the detail a payer adjudicates, so the total follows them."""
    charges = [ln.line_charge for ln in claim.lines]
    if not charges or any(c is None or c < 0 for c in charges):
        return claim, ()
    total = sum(charges, Decimal(0))  # type: ignore[arg-type]
    if claim.total_charge == total:
        return claim, ()
    return replace(claim, total_charge=total), ("total_charge",)


def copy_place_of_service_to_lines(claim: Claim) -> tuple[Claim, tuple[str, ...]]:
    """Lines without a place of service take the claim's (837P: SV105 defaults to CLM05-1)."""
    if not claim.place_of_service:
        return claim, ()
    fields = []
    lines = []
    for i, line in enumerate(claim.lines):
        if not (line.place_of_service or "").strip():
            fields.append(f"lines[{i}].place_of_service")
            line = replace(line, place_of_service=claim.place_of_service)
        lines.append(line)
    return (replace(claim, lines=tuple(lines)), tuple(fields)) if fields else (claim, ())


# Order matters: formats first, so that a recomputed total or swapped dates see clean values.
REPAIRS: tuple[Repair, ...] = (
    Repair("REPAIR_ICD10_NORMALISE", "ICD-10-CM code whitespace/lower case", normalise_diagnosis_codes),
    Repair("REPAIR_PROCEDURE_NORMALISE", "CPT/HCPCS code and modifier whitespace/lower case",
           normalise_procedure_codes),
    Repair("REPAIR_IDENTIFIER_WHITESPACE", "NPI/POS/sex/frequency whitespace or lower case",
           strip_identifier_whitespace),
    Repair("REPAIR_SWAPPED_DATES", "service_from and service_to swapped", swap_inverted_dates),
    Repair("REPAIR_TOTAL_FROM_LINES", "total_charge recomputed from complete lines", recompute_total),
    Repair("REPAIR_LINE_POS_FROM_CLAIM", "missing line place of service copied from the claim",
           copy_place_of_service_to_lines),
)  # fmt: skip

# Failure codes a repair can plausibly fix. A claim with any other failure goes straight to manual review:
# a repair cannot make it valid, so queueing it would only delay the reviewer.
REPAIRABLE_CODES = frozenset(
    {
        "ICD10_FORMAT",
        "CPT_FORMAT",
        "MODIFIER_FORMAT",
        "NPI_FORMAT",
        "POS_INVALID",
        "SEX_INVALID",
        "FREQUENCY_INVALID",
        "DATE_RANGE_INVERTED",
        "LINE_DATE_OUTSIDE_CLAIM",
        "CHARGE_TOTAL_MISMATCH",
        "ICD10_UNKNOWN",
        "PROCEDURE_UNKNOWN",
    }
)


def apply_repairs(claim: Claim, repairs: Sequence[Repair] = REPAIRS) -> RepairResult:
    applied: list[dict[str, object]] = []
    for repair in repairs:
        claim, fields = repair.fn(claim)
        if fields:
            applied.append({"repair": repair.code, "fields": list(fields)})
    return RepairResult(claim, tuple(applied))


def worth_repairing(claim: Claim, failures: Sequence[RuleFailure]) -> bool:
    """True when every failure is of a repairable kind and some repair changes the claim."""
    if not failures or any(f.code not in REPAIRABLE_CODES for f in failures):
        return False
    return apply_repairs(claim).changed
