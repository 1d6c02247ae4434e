"""Procedure edits beyond the format, driven by the reference tables: the code is known, its modifiers are
valid, its units stay within the MUE, and the payer's prior authorisation is on the claim.

Every table comes through ctx (EditTables); an empty table skips its edit. The four share one pass over
the lines, since almost every line passes all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from claims_tasks.records import Claim, RuleFailure

from .catalogue import failure, show
from .coding import MODIFIER_SHAPES, PROCEDURE_RE
from .context import RuleContext
from .required import blank

_ZERO = Decimal(0)
# MUE adjudication indicators (CMS MUE files, column "MUE Adjudication Indicator"): 1 = the limit applies
# per claim line; 2 = per date of service, absolute (policy); 3 = per date of service, clinical.
MAI_PER_LINE = 1


def check_procedure_codes(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """CPT_UNKNOWN, MODIFIER_INVALID, MUE_EXCEEDED, PRIOR_AUTH_MISSING: the line-level code edits, in one
    pass over the lines (each check on its rare path only; see the helpers for each code's source). Lines
    without a procedure code (an institutional line with a revenue code only) are skipped, modifiers aside.

    An empty table skips its edit: known codes (ctx.known_procedures, the RVU table, with
    ctx.edits.known_procedures), ctx.edits.modifiers, ctx.edits.mue, ctx.edits.prior_auth.

    Source: CMS PFS RVU file and HCPCS Level II code set; AMA CPT Appendix A and HCPCS modifiers; CMS NCCI
    Medically Unlikely Edits; payers' prior-authorisation lists (details in each helper's docstring).
    """
    priced, edits = ctx.known_procedures, ctx.edits
    listed, valid_modifiers, mue, auth_codes = (
        edits.known_procedures,
        edits.modifiers,
        edits.mue,
        edits.prior_auth_codes,
    )
    check_known = bool(priced or listed)
    unknown: list[int] = []
    bad_modifiers = over = needs_auth = False
    for i, line in enumerate(claim.lines):
        code = line.procedure_code
        if valid_modifiers and line.modifiers:
            for modifier in line.modifiers:
                if modifier not in valid_modifiers:
                    bad_modifiers = True
        if code is None:  # a revenue-code-only line (837I): no procedure edit applies
            continue
        if check_known and code not in priced and code not in listed:
            unknown.append(i)
        if mue and not over:
            limit = mue.get(code)  # type: ignore[arg-type]  # None is simply not found
            units = line.units
            over = limit is not None and units is not None and units.is_finite() and units > limit[0]
        if code in auth_codes:
            needs_auth = True
    out: list[RuleFailure] = []
    if unknown:
        out += _unknown_codes(claim, unknown)
    if bad_modifiers:
        out += _invalid_modifiers(claim, valid_modifiers)
    if mue and (over or _repeats_a_code(claim)):
        out += _mue_failures(claim, mue)
    if needs_auth and blank(claim.prior_auth_number):
        out += _missing_auth(claim, edits.prior_auth)
    return out


def _repeats_a_code(claim: Claim) -> bool:
    lines = claim.lines
    return len(lines) > 1 and len({line.procedure_code for line in lines}) < len(lines)


def _unknown_codes(claim: Claim, rows: list[int]) -> list[RuleFailure]:
    """CPT_UNKNOWN: a well-formed procedure code is priced (RVU table) or on the known-code list.

    Source: the RVU table (CMS Physician Fee Schedule RVU file, staging.rvu_values) and the known CPT/HCPCS
    list (staging.hcpcs_codes, from db/reference/hcpcs_codes.csv: CMS HCPCS Level II codes and CPT codes
    this project bills without an RVU). A known code outside the RVU table is valid but unpriced: the
    claim's expected reimbursement does not count it. A malformed or missing code is CPT_FORMAT's or
    LINE_REQUIRED_FIELD's.
    """
    out: list[RuleFailure] = []
    for i in rows:
        line = claim.lines[i]
        code = line.procedure_code
        if code is None or PROCEDURE_RE.fullmatch(code) is None:
            continue
        out.append(
            failure(
                "CPT_UNKNOWN",
                f"lines[{i}].procedure_code",
                f"line {line.line_number} procedure_code {show(code)} is neither priced nor a known CPT/HCPCS code",
            )
        )
    return out


def _invalid_modifiers(claim: Claim, valid: frozenset[str]) -> list[RuleFailure]:
    """MODIFIER_INVALID: each well-formed modifier is a valid CPT or HCPCS Level II modifier.

    Source: AMA CPT Appendix A (Level I modifiers) and the CMS HCPCS Level II modifier list, as the subset
    in db/reference/modifiers.csv (staging.modifiers). A malformed modifier is MODIFIER_FORMAT's.
    """
    out: list[RuleFailure] = []
    for i, line in enumerate(claim.lines):
        for modifier in line.modifiers:
            if modifier in valid or modifier not in MODIFIER_SHAPES:
                continue
            out.append(
                failure(
                    "MODIFIER_INVALID",
                    f"lines[{i}].modifiers",
                    f"line {line.line_number} modifier {show(modifier)} is not a valid CPT/HCPCS modifier",
                )
            )
    return out


def _mue_failures(claim: Claim, mue: Mapping[str, tuple[int, int]]) -> list[RuleFailure]:
    """MUE_EXCEEDED: units of a procedure stay within its Medically Unlikely Edit.

    MAI 1: each line's units <= the MUE. MAI 2 and 3: the units of all lines with that code on the same
    date of service (the line's service_date, else service_from) <= the MUE; the failure names the line
    that crosses it. Source: CMS NCCI Medically Unlikely Edits (practitioner services), MUE adjudication
    indicators per the CMS MUE FAQ; the table is db/reference/mue.csv (staging.mue_limits). Lines whose
    units are missing or not positive are LINE_REQUIRED_FIELD's / UNITS_INVALID's and are not counted.
    MAI 3 is also a per-day limit across claims, which a claim-level edit cannot see.
    """
    out: list[RuleFailure] = []
    per_day: dict[tuple[str, date | None], Decimal] = {}
    for i, line in enumerate(claim.lines):
        limit = mue.get(line.procedure_code)  # type: ignore[arg-type]
        units = line.units
        # NaN units are UNITS_INVALID's; comparing a Decimal NaN raises, so test finiteness first.
        if limit is None or units is None or not units.is_finite() or not units > _ZERO:
            continue
        most, mai = limit
        code = line.procedure_code
        if mai == MAI_PER_LINE:
            if units > most:
                out.append(_mue_failure(i, line.line_number, code, f"has {units} units", most, "per line"))
            continue
        key = (code or "", line.service_date or claim.service_from)
        before = per_day.get(key, _ZERO)
        total = per_day[key] = before + units
        if total > most >= before:  # report a code-day once, on the line that crosses the limit
            said = f"brings the day's units to {total}" if before else f"has {units} units"
            out.append(_mue_failure(i, line.line_number, code, said, most, "per date of service"))
    return out


def _mue_failure(index: int, line_number: int, code: str | None, said: str, most: int, scope: str) -> RuleFailure:
    return failure(
        "MUE_EXCEEDED",
        f"lines[{index}].units",
        f"line {line_number} procedure_code {show(code)} {said}; the MUE allows {most} {scope}",
    )


def _missing_auth(claim: Claim, required: frozenset[tuple[str, str]]) -> list[RuleFailure]:
    """PRIOR_AUTH_MISSING: a procedure the payer authorises in advance comes with a prior_auth_number.

    Source: the payer x procedure table db/reference/payer_prior_auth.csv (staging.payer_prior_auth),
    modelled on payers' published prior-authorisation lists; X12 837P 2300 REF*G1 (prior authorization)
    / CMS-1500 item 23. One failure per line that needs it.
    """
    payer = claim.payer_id
    out: list[RuleFailure] = []
    for line in claim.lines:
        if (payer, line.procedure_code) in required:
            out.append(
                failure(
                    "PRIOR_AUTH_MISSING",
                    "prior_auth_number",
                    f"line {line.line_number} procedure_code {show(line.procedure_code)} needs prior "
                    f"authorisation from payer {show(payer)}; prior_auth_number is missing",
                )
            )
    return out
