"""Money and quantity checks: signs, totals, the production column's range, and line units.

Amounts are not patient data, so messages show them.
"""

from __future__ import annotations

from decimal import Decimal

from claims_tasks.records import Claim, RuleFailure

from .catalogue import failure
from .context import RuleContext

# production.claims.total_charge and claim_lines.line_charge are numeric(12,2).
MAX_CHARGE = Decimal("9999999999.99")
MAX_UNITS = Decimal(9999)
_ZERO = Decimal(0)


def check_charges(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """CHARGE_NEGATIVE, CHARGE_OUT_OF_RANGE, CHARGE_TOTAL_MISMATCH on total_charge and line charges.

    Source: X12 837P implementation guide — CLM02 (total claim charge) must balance to the sum of the
    SV102 line charges; charges are non-negative (CMS-1500 items 24F and 28); the
    upper bound is the production column, numeric(12,2). NaN counts as out of range. The total is only
    compared when it and every line charge are present and finite and there is at least one line.
    """
    out: list[RuleFailure] = []
    total = claim.total_charge
    comparable = total is not None and _charge_ok(out, "total_charge", "total_charge", total)
    line_sum = _ZERO
    for i, line in enumerate(claim.lines):
        charge = line.line_charge
        if charge is None:
            comparable = False
        elif charge == charge and _ZERO <= charge <= MAX_CHARGE:  # NaN != NaN, and NaN must not be ordered
            line_sum += charge
        else:
            _charge_ok(out, f"lines[{i}].line_charge", f"line {line.line_number} line_charge", charge)
            comparable = False
    if comparable and claim.lines and total != line_sum:
        out.append(
            failure(
                "CHARGE_TOTAL_MISMATCH",
                "total_charge",
                f"total_charge {total} differs from the sum of line charges {line_sum}",
            )
        )
    return out


def _charge_ok(out: list[RuleFailure], field: str, label: str, value: Decimal) -> bool:
    """Append a failure for a bad amount; True when the amount is usable in a sum."""
    if value != value:  # NaN: ordering comparisons on it would raise
        out.append(failure("CHARGE_OUT_OF_RANGE", field, f"{label} is not a number"))
        return False
    if value < _ZERO:
        out.append(failure("CHARGE_NEGATIVE", field, f"{label} {value} is negative"))
        return False
    if value > MAX_CHARGE:
        out.append(failure("CHARGE_OUT_OF_RANGE", field, f"{label} {value} exceeds {MAX_CHARGE}"))
        return False
    return True


def check_units(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """UNITS_INVALID: each line's units satisfy 0 < units <= 9999.

    Source: X12 837P SV104 service unit count (must be positive); CMS Medically Unlikely Edits (MUE) cap
    units per code per day far lower — 9999 is this pipeline's ceiling until per-code MUE limits load.
    Missing units are LINE_REQUIRED_FIELD's.
    """
    out: list[RuleFailure] = []
    for i, line in enumerate(claim.lines):
        units = line.units
        if units is None:
            continue
        if units != units or not _ZERO < units <= MAX_UNITS:
            out.append(
                failure(
                    "UNITS_INVALID",
                    f"lines[{i}].units",
                    f"line {line.line_number} units {units} are not in 0 < units <= {MAX_UNITS}",
                )
            )
    return out
