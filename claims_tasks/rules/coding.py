"""Code-set checks: ICD-10-CM and CPT/HCPCS formats, diagnosis pointers, modifiers, place of service and
claim frequency. Formats only; whether a code exists in the current code list is a later rule."""

from __future__ import annotations

import re

from claims_tasks.records import Claim, RuleFailure

from .catalogue import failure, show
from .context import RuleContext
from .required import blank

# ICD-10-CM: letter, digit, alphanumeric category; optional dot and 1-4 more characters.
ICD10_RE = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?")
# CPT (5 characters: Category I numeric or ending A/M, Category II ending F, Category III ending T, PLA
# ending U) and HCPCS Level II (a letter + 4 digits; the format leaves out D, F, I, N, O and W-Z).
PROCEDURE_RE = re.compile(r"[A-CEGHJ-MP-V0-9][0-9]{3}[AFMTU0-9]")
# NUBC revenue code (UB-04 FL 42, X12 837I SV201): four digits, leading zero kept (0120 room and board).
REVENUE_CODE_RE = re.compile(r"[0-9]{4}")

# Codes already seen to be well-formed: a set lookup is several times cheaper than a regex match, and a
# fleet sees a few thousand distinct codes. Capped so a stream of junk cannot grow it without bound;
# only well-formed codes enter, so the cap is reached only by real code-set sizes.
_MEMO_CAP = 100_000
_GOOD_ICD10: set[str] = set()
_GOOD_PROCEDURES: set[str] = set()

_ALNUM_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# All 1,296 two-character strings a modifier may be: a set lookup beats a regex per modifier.
MODIFIER_SHAPES: frozenset[str] = frozenset(a + b for a in _ALNUM_UPPER for b in _ALNUM_UPPER)
MAX_MODIFIERS = 4
MAX_DIAGNOSIS_POINTERS = 4

# CMS Place of Service Code Set (cms.gov: Medicare > Coding > Place of Service Codes), current as of the
# addition of 66 (PACE Center, effective 2024-08-01, Transmittal 12779). Recent additions: 27 (Outreach
# Site/Street) 2023-10-01 (CR 13314); 10 (Telehealth Provided in Patient's Home) 2022-01-01; 58
# (Non-residential Opioid Treatment Facility) 2020-01-01. Unassigned: 28-30, 35-40, 43-48, 59, 63-64,
# 67-70, 73-80, 82-98. Review this constant when CMS publishes a new code.
PLACE_OF_SERVICE_CODES: frozenset[str] = frozenset(
    [f"{n:02d}" for n in range(1, 28)]  # 01-27
    + ["31", "32", "33", "34", "41", "42"]
    + [f"{n:02d}" for n in range(49, 59)]  # 49-58
    + ["60", "61", "62", "65", "66", "71", "72", "81", "99"]
)

# X12 837 CLM05-3 claim frequency type codes this pipeline accepts: original, replacement, void.
FREQUENCY_CODES: frozenset[str] = frozenset({"1", "7", "8"})


def check_icd10_format(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """ICD10_FORMAT: each diagnosis code matches the ICD-10-CM shape.

    Source: ICD-10-CM Official Guidelines for Coding and Reporting (CMS/NCHS), section I.A — codes are 3 to
    7 characters, the first alphabetic, the second numeric, a decimal after the third; the format is
    ^[A-Z][0-9][0-9A-Z](\\.?[0-9A-Z]{1,4})?$ (uppercase only; X12 sends codes without the dot).
    A missing or blank code fails too. Field: "diagnoses[i].icd10_code", i the position in claim.diagnoses.
    """
    out: list[RuleFailure] = []
    good, match = _GOOD_ICD10, ICD10_RE.fullmatch
    for i, dx in enumerate(claim.diagnoses):
        code = dx.icd10_code
        if code in good:
            continue
        if code is not None and match(code) is not None:
            if len(good) < _MEMO_CAP:
                good.add(code)
            continue
        what = "is missing" if blank(code) else f"{show(code)} is not in ICD-10-CM format"
        out.append(failure("ICD10_FORMAT", f"diagnoses[{i}].icd10_code", f"diagnosis {dx.sequence} icd10_code {what}"))
    return out


def check_diagnosis_pointers(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """DIAGNOSIS_POINTER_INVALID: each line points at diagnosis sequences present on the claim, at most 4.

    Source: X12 837P SV107 composite diagnosis code pointer (up to 4 pointers into the HI segment);
    CMS-1500 item 24E. Field: "lines[i].diagnosis_pointers". Skipped when the claim has no diagnoses.
    """
    if not claim.lines or not claim.diagnoses:  # no diagnoses at all is DIAGNOSIS_MISSING's
        return []
    out: list[RuleFailure] = []
    sequences = {dx.sequence for dx in claim.diagnoses}
    for i, line in enumerate(claim.lines):
        pointers = line.diagnosis_pointers
        if not pointers or (len(pointers) <= MAX_DIAGNOSIS_POINTERS and sequences.issuperset(pointers)):
            continue
        field = f"lines[{i}].diagnosis_pointers"
        if len(pointers) > MAX_DIAGNOSIS_POINTERS:
            out.append(
                failure(
                    "DIAGNOSIS_POINTER_INVALID",
                    field,
                    f"line {line.line_number} has {len(pointers)} diagnosis pointers; at most "
                    f"{MAX_DIAGNOSIS_POINTERS} are allowed",
                )
            )
        dangling = [p for p in pointers if p not in sequences]
        if dangling:
            out.append(
                failure(
                    "DIAGNOSIS_POINTER_INVALID",
                    field,
                    f"line {line.line_number} diagnosis_pointers {show(tuple(dangling), 40)} "
                    "refer to no diagnosis on the claim",
                )
            )
    return out


def revenue_code_ok(code: str | None) -> bool:
    """True when a line's revenue code passes REVENUE_CODE_INVALID: absent, blank, or four ASCII digits."""
    return code is None or blank(code) or REVENUE_CODE_RE.fullmatch(code) is not None


def check_procedure_format(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """CPT_FORMAT: each line's procedure code matches the CPT/HCPCS Level II shape. REVENUE_CODE_INVALID:
    each line's revenue code, when present, is four digits. One pass over the lines for both codes.

    Source: AMA CPT (5 numerics; Category II ends F, Category III ends T, PLA ends U) and the CMS HCPCS
    Level II alpha-numeric code set (a letter A-V then 4 digits); format
    ^[A-CEGHJ-MP-V0-9][0-9]{3}[AFMTU0-9]$. Revenue codes: NUBC UB-04 Data Specifications Manual, form
    locator 42 (four digits with the leading zero, e.g. 0120, 0450); X12 837I SV201. A blank code is
    LINE_REQUIRED_FIELD's, not this rule's.
    """
    out: list[RuleFailure] = []
    good, match = _GOOD_PROCEDURES, PROCEDURE_RE.fullmatch
    for i, line in enumerate(claim.lines):
        revenue = line.revenue_code
        if revenue is not None and not revenue_code_ok(revenue):  # professional lines have none
            out.append(
                failure(
                    "REVENUE_CODE_INVALID",
                    f"lines[{i}].revenue_code",
                    f"line {line.line_number} revenue_code {show(revenue)} is not a 4-digit NUBC revenue code",
                )
            )
        code = line.procedure_code
        if code in good or code is None or blank(code):
            continue
        if match(code) is not None:
            if len(good) < _MEMO_CAP:
                good.add(code)
            continue
        out.append(
            failure(
                "CPT_FORMAT",
                f"lines[{i}].procedure_code",
                f"line {line.line_number} procedure_code {show(code)} is not in CPT/HCPCS format",
            )
        )
    return out


def check_modifiers(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """MODIFIER_FORMAT: each modifier is 2 uppercase letters/digits, and a line has at most 4.

    Source: AMA CPT Appendix A and CMS HCPCS Level II modifiers (two characters); X12 837P SV101-3..6
    (four modifier positions); CMS-1500 item 24D. Field: "lines[i].modifiers".
    """
    out: list[RuleFailure] = []
    for i, line in enumerate(claim.lines):
        modifiers = line.modifiers
        if not modifiers:
            continue
        if len(modifiers) > MAX_MODIFIERS:
            out.append(
                failure(
                    "MODIFIER_FORMAT",
                    f"lines[{i}].modifiers",
                    f"line {line.line_number} has {len(modifiers)} modifiers; at most {MAX_MODIFIERS}",
                )
            )
        for modifier in modifiers:
            if modifier not in MODIFIER_SHAPES:
                out.append(
                    failure(
                        "MODIFIER_FORMAT",
                        f"lines[{i}].modifiers",
                        f"line {line.line_number} modifier {show(modifier)} is not 2 uppercase letters or digits",
                    )
                )
    return out


def check_place_of_service(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """POS_INVALID: the claim's and each line's place_of_service, when present, is a CMS POS code.

    Source: CMS Place of Service Code Set (see PLACE_OF_SERVICE_CODES for the edition); X12 837P CLM05-1
    and SV105; CMS-1500 item 24B. A blank value counts as absent (the column is optional).
    """
    out: list[RuleFailure] = []
    pos = claim.place_of_service
    if pos is not None and pos not in PLACE_OF_SERVICE_CODES and not blank(pos):
        out.append(
            failure(
                "POS_INVALID",
                "place_of_service",
                f"place_of_service {show(pos)} is not in the CMS place of service code set",
            )
        )
    for i, line in enumerate(claim.lines):
        pos = line.place_of_service
        if pos is not None and pos not in PLACE_OF_SERVICE_CODES and not blank(pos):
            out.append(
                failure(
                    "POS_INVALID",
                    f"lines[{i}].place_of_service",
                    f"line {line.line_number} place_of_service {show(pos)} is not in the CMS place of service code set",
                )
            )
    return out


def check_frequency(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """FREQUENCY_INVALID: claim_frequency, when present, is 1 (original), 7 (replacement) or 8 (void).

    Source: X12 837 CLM05-3 claim frequency type code (NUBC UB-04 type-of-bill third digit); CMS-1500
    item 22. A blank value is REQUIRED_FIELD's.
    """
    freq = claim.claim_frequency
    if freq is None or freq in FREQUENCY_CODES or blank(freq):
        return []
    return [failure("FREQUENCY_INVALID", "claim_frequency", f"claim_frequency {show(freq)} is not 1, 7 or 8")]
