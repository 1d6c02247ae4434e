"""Diagnosis edits beyond the format: the code exists and is billable in the ICD-10-CM edition for the service
date, an external-cause code is never principal, and the code fits the patient's sex and age.

Diagnosis codes are not patient identifiers, so messages show them; sex, dates of birth and ages are never
echoed (the message says which demographic the code conflicts with, not the patient's value).
"""

from __future__ import annotations

from datetime import date

from claims_tasks.records import Claim, Diagnosis, RuleFailure

from .catalogue import failure, show
from .coding import ICD10_RE
from .context import Icd10Edition, RuleContext

# ICD-10-CM chapter 20, External causes of morbidity (V00-Y99): they describe how an injury happened and
# may never be the principal diagnosis (ICD-10-CM Official Guidelines I.C.20; CMS MCE edit 2).
EXTERNAL_CAUSE_LETTERS = frozenset("VWXY")

# Sex- and age-specific diagnoses: a SUBSET of the CMS Medicare Code Editor (MCE) edits "Diagnoses for
# females only" / "males only" and the age edits (newborn 0, pediatric 0-17, maternity 9-64, adult
# 15-124), as published with the MS-DRG Definitions Manual / MCE documentation (cms.gov, Acute Inpatient
# PPS > MS-DRG Classifications and Software). Ranges are inclusive ICD-10-CM prefixes, compared on the code
# without its dot. CMS deactivated the MCE sex-conflict edits for inpatient claims in recent MCE releases;
# payers' scrubbers still apply them, so they stay here, and sex "U" never conflicts.
# (first prefix, last prefix, sex or "", min age, max age, MCE list)
DX_DEMOGRAPHIC_EDITS: tuple[tuple[str, str, str, int, int, str], ...] = (
    ("O00", "O9A", "F", 9, 64, "maternity"),  # pregnancy, childbirth and the puerperium
    ("Z33", "Z33", "F", 9, 64, "maternity"),  # pregnant state
    ("Z34", "Z34", "F", 9, 64, "maternity"),  # supervision of normal pregnancy
    ("Z3A", "Z3A", "F", 9, 64, "maternity"),  # weeks of gestation
    ("C51", "C58", "F", 0, 124, "females only"),  # malignant neoplasms of female genital organs
    ("C5001", "C5001", "F", 0, 124, "females only"),  # C50.-1- female breast, by site
    ("C5011", "C5011", "F", 0, 124, "females only"),
    ("C5021", "C5021", "F", 0, 124, "females only"),
    ("C5031", "C5031", "F", 0, 124, "females only"),
    ("C5041", "C5041", "F", 0, 124, "females only"),
    ("C5051", "C5051", "F", 0, 124, "females only"),
    ("C5061", "C5061", "F", 0, 124, "females only"),
    ("C5081", "C5081", "F", 0, 124, "females only"),
    ("C5091", "C5091", "F", 0, 124, "females only"),
    ("D06", "D06", "F", 0, 124, "females only"),  # carcinoma in situ of cervix uteri
    ("D25", "D28", "F", 0, 124, "females only"),  # benign neoplasms of uterus, ovary, other female organs
    ("E28", "E28", "F", 0, 124, "females only"),  # ovarian dysfunction
    ("N70", "N98", "F", 0, 124, "females only"),  # female pelvic and genital disorders
    ("Z014", "Z014", "F", 0, 124, "females only"),  # gynecological examination
    ("Z124", "Z124", "F", 0, 124, "females only"),  # screening for malignant neoplasm of cervix
    ("C5002", "C5002", "M", 0, 124, "males only"),  # C50.-2- male breast, by site
    ("C5012", "C5012", "M", 0, 124, "males only"),
    ("C5022", "C5022", "M", 0, 124, "males only"),
    ("C5032", "C5032", "M", 0, 124, "males only"),
    ("C5042", "C5042", "M", 0, 124, "males only"),
    ("C5052", "C5052", "M", 0, 124, "males only"),
    ("C5062", "C5062", "M", 0, 124, "males only"),
    ("C5082", "C5082", "M", 0, 124, "males only"),
    ("C5092", "C5092", "M", 0, 124, "males only"),
    ("C60", "C63", "M", 0, 124, "males only"),  # malignant neoplasms of male genital organs
    ("D074", "D076", "M", 0, 124, "males only"),  # carcinoma in situ of penis, prostate, other male organs
    ("D29", "D29", "M", 0, 124, "males only"),  # benign neoplasm of male genital organs
    ("E29", "E29", "M", 0, 124, "males only"),  # testicular dysfunction
    ("N40", "N53", "M", 0, 124, "males only"),  # diseases of male genital organs
    ("R972", "R972", "M", 0, 124, "males only"),  # elevated prostate specific antigen
    ("Z125", "Z125", "M", 0, 124, "males only"),  # screening for malignant neoplasm of prostate
    ("P00", "P96", "", 0, 0, "newborn"),  # certain conditions originating in the perinatal period
    ("Z38", "Z38", "", 0, 0, "newborn"),  # liveborn infants by place of birth
    ("Z001", "Z001", "", 0, 17, "pediatric"),  # routine child health examination
    ("Z6851", "Z6854", "", 0, 17, "pediatric"),  # pediatric body mass index percentiles
    ("Z000", "Z000", "", 15, 124, "adult"),  # general adult medical examination
    ("Z681", "Z684", "", 15, 124, "adult"),  # adult body mass index
)

_MEMO_CAP = 100_000
_DEMOGRAPHIC_MEMO: dict[str, tuple[tuple[str, int, int, str], ...]] = {}


def demographic_edits(code: str) -> tuple[tuple[str, int, int, str], ...]:
    """The (sex, min age, max age, MCE list) edits that apply to an ICD-10-CM code (dotted or not)."""
    found = _DEMOGRAPHIC_MEMO.get(code)
    if found is not None:
        return found
    bare = code.replace(".", "")
    found = tuple(
        (sex, lo_age, hi_age, label)
        for lo, hi, sex, lo_age, hi_age, label in DX_DEMOGRAPHIC_EDITS
        if lo <= bare[: len(lo)] and bare[: len(hi)] <= hi
    )
    if len(_DEMOGRAPHIC_MEMO) < _MEMO_CAP:
        _DEMOGRAPHIC_MEMO[code] = found
    return found


def age_at(born: date, day: date) -> int:
    """Whole years from born to day (the MCE's age in years; 0 for the first year of life)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def edition_for(editions: tuple[Icd10Edition, ...], day: date | None) -> Icd10Edition:
    """The edition whose window holds the day; outside every window, the nearest one (the first before the
    earliest window, the last after the latest); with no day, the latest."""
    if day is None or day > editions[-1].valid_to:
        return editions[-1]
    for edition in editions:
        if day <= edition.valid_to:
            return edition
    return editions[-1]  # pragma: no cover - unreachable: the first check covers it


def dotted(code: str) -> str:
    """CMS's dotted form of a format-valid code: E119 -> E11.9; I10 and E11.9 unchanged."""
    return code if len(code) <= 3 or code[3] == "." else code[:3] + "." + code[3:]


def check_diagnosis_codes(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """ICD10_UNKNOWN, ICD10_NOT_BILLABLE, ICD10_EXTERNAL_CAUSE_PRINCIPAL, DX_SEX_CONFLICT, DX_AGE_CONFLICT:
    the diagnosis edits beyond the format, in one pass over the diagnoses (each check on its rare path
    only). The code-set edits are skipped when no ICD-10-CM edition is loaded; the other two are built in.

    Source: the CMS/NCHS ICD-10-CM code list (simple-icd-10-cm) and Official Guidelines I.B.3 and I.C.20;
    the CMS Medicare Code Editor edits 2, 4 and 5 (details in each helper's docstring).
    """
    editions = ctx.edits.icd10
    if editions:
        edition = editions[0] if len(editions) == 1 else edition_for(editions, claim.service_to or claim.service_from)
        billable = edition.billable
    memo = _DEMOGRAPHIC_MEMO
    out: list[RuleFailure] | None = None
    for i, dx in enumerate(claim.diagnoses):
        code = dx.icd10_code
        if not code:
            continue
        found = None
        if editions and code not in billable:
            found = _not_in_code_set(i, dx, edition)
        if dx.sequence == 1 and code[0] in EXTERNAL_CAUSE_LETTERS:
            found = (found or []) + _external_cause(i, dx)
        edits = memo.get(code)
        if edits is None:
            edits = demographic_edits(code)
        if edits:
            found = (found or []) + _demographic_conflicts(claim, i, dx, edits)
        if found:
            out = found if out is None else out + found
    return out or []


def _not_in_code_set(i: int, dx: Diagnosis, edition: Icd10Edition) -> list[RuleFailure]:
    """ICD10_UNKNOWN, ICD10_NOT_BILLABLE: the diagnosis is a billable (leaf) code of the ICD-10-CM edition
    that governs the claim's service date (service_to, the through date CMS uses to pick the code set).

    Source: the CMS/NCHS ICD-10-CM code list as shipped by the PyPI package simple-icd-10-cm (loaded into
    staging.icd10_codes by `claims-tasks init`); HIPAA 45 CFR 162.1002 requires the code set valid on the
    date of service; only codes with no children are billable (Official Guidelines I.B.3). A code that is
    not in ICD-10-CM format is ICD10_FORMAT's.
    """
    code = dx.icd10_code or ""
    full = dotted(code)
    if ICD10_RE.fullmatch(code) is None or full in edition.billable:
        return []
    field = f"diagnoses[{i}].icd10_code"
    if full in edition.headers:
        message = (
            f"diagnosis {dx.sequence} icd10_code {show(code)} is a category, not a billable code, "
            f"in ICD-10-CM {edition.name}"
        )
        return [failure("ICD10_NOT_BILLABLE", field, message)]
    message = f"diagnosis {dx.sequence} icd10_code {show(code)} is not in ICD-10-CM {edition.name}"
    return [failure("ICD10_UNKNOWN", field, message)]


def _external_cause(i: int, dx: Diagnosis) -> list[RuleFailure]:
    """ICD10_EXTERNAL_CAUSE_PRINCIPAL: the principal diagnosis (sequence 1) is not an external-cause code
    (V00-Y99).

    Source: ICD-10-CM Official Guidelines I.C.20 (external cause codes are never principal or first-listed);
    CMS Medicare Code Editor edit 2 "External causes of morbidity codes as principal diagnosis".
    """
    code = dx.icd10_code or ""
    if ICD10_RE.fullmatch(code) is None:
        return []
    return [
        failure(
            "ICD10_EXTERNAL_CAUSE_PRINCIPAL",
            f"diagnoses[{i}].icd10_code",
            f"principal diagnosis icd10_code {show(code)} is an external-cause code (V00-Y99)",
        )
    ]


def _demographic_conflicts(
    claim: Claim, i: int, dx: Diagnosis, edits: tuple[tuple[str, int, int, str], ...]
) -> list[RuleFailure]:
    """DX_SEX_CONFLICT, DX_AGE_CONFLICT: a sex- or age-specific diagnosis fits the patient.

    Source: CMS Medicare Code Editor edits 4 (age conflict) and 5 (sex conflict), a subset of their code
    lists (DX_DEMOGRAPHIC_EDITS). Age is in whole years on service_from. Sex is only compared when it is M
    or F; the age edit is skipped without both dates or when date_of_birth is after service_from
    (DOB_AFTER_SERVICE speaks). Neither the sex nor the age is echoed.
    """
    sex = claim.sex if claim.sex in ("M", "F") else None
    born, day = claim.date_of_birth, claim.service_from
    age = age_at(born, day) if born is not None and day is not None and born <= day else None
    code, field = dx.icd10_code, f"diagnoses[{i}].icd10_code"
    out: list[RuleFailure] = []
    for want, lo, hi, label in edits:
        if want and sex is not None and sex != want:
            who = "female" if want == "F" else "male"
            out.append(
                failure(
                    "DX_SEX_CONFLICT",
                    field,
                    f"diagnosis {dx.sequence} icd10_code {show(code)} is for {who} patients only "
                    f"(MCE {label}); it conflicts with the patient's sex",
                )
            )
        if age is not None and not lo <= age <= hi:
            out.append(
                failure(
                    "DX_AGE_CONFLICT",
                    field,
                    f"diagnosis {dx.sequence} icd10_code {show(code)} is for ages {lo}-{hi} "
                    f"(MCE {label}); it conflicts with the patient's age",
                )
            )
    return out
