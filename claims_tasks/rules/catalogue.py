"""Every rule code with its failure category and one line on what it means; the one place codes live.

Codes are stable: production rows, dashboards and repair rules key on them. Rename nothing; add new codes.
"""

from __future__ import annotations

from claims_tasks.records import RuleFailure

RULE_CATALOGUE: dict[str, tuple[str, str]] = {
    # --- required data
    "REQUIRED_FIELD": ("validation", "a required claim field is missing or blank"),
    "LINES_MISSING": ("validation", "the claim has no service lines"),
    "DIAGNOSIS_MISSING": ("validation", "the claim has no diagnoses"),
    "LINE_REQUIRED_FIELD": (
        "validation",
        "a line is missing units or line_charge, or has neither a procedure_code nor a revenue_code",
    ),
    "REVENUE_CODE_INVALID": ("validation", "a line's revenue_code is not a 4-digit NUBC revenue code"),
    "SEX_INVALID": ("data_quality", "sex is not one of M, F, U"),
    # --- dates
    "DATE_RANGE_INVERTED": ("validation", "service_from is after service_to"),
    "DOB_AFTER_SERVICE": ("validation", "date_of_birth is after service_from"),
    "DATE_IN_FUTURE": ("validation", "a claim, line or receipt date is after today"),
    "DATE_IMPLAUSIBLE": ("data_quality", "a claim, line or receipt date is before 1900-01-01"),
    "LINE_DATE_OUTSIDE_CLAIM": ("validation", "a line's service_date is outside service_from..service_to"),
    "TIMELY_FILING": ("validation", "received more than timely_filing_days after service_to"),
    # --- providers
    "NPI_FORMAT": ("data_quality", "an NPI is not 10 digits starting with 1 or 2"),
    "NPI_CHECK_DIGIT": ("data_quality", "an NPI fails the Luhn check digit with the 80840 prefix"),
    # --- coding
    "ICD10_FORMAT": ("coding", "a diagnosis code is not in ICD-10-CM format"),
    "DIAGNOSIS_POINTER_INVALID": ("coding", "a line points at a missing diagnosis, or at more than 4"),
    "CPT_FORMAT": ("coding", "a procedure code is not in CPT/HCPCS format"),
    "MODIFIER_FORMAT": ("coding", "a modifier is not 2 uppercase alphanumerics, or a line has more than 4"),
    "POS_INVALID": ("coding", "a place of service is not in the CMS two-digit code set"),
    "FREQUENCY_INVALID": ("data_quality", "claim_frequency is not 1, 7 or 8"),
    "ICD10_UNKNOWN": ("coding", "a diagnosis code is not in the ICD-10-CM edition for the service date"),
    "ICD10_NOT_BILLABLE": ("coding", "a diagnosis code is an ICD-10-CM category with subcodes, not billable"),
    "ICD10_EXTERNAL_CAUSE_PRINCIPAL": ("coding", "the principal diagnosis is an external-cause code (V-Y)"),
    "DX_SEX_CONFLICT": ("coding", "a sex-specific diagnosis conflicts with the patient's sex"),
    "DX_AGE_CONFLICT": ("coding", "an age-specific diagnosis conflicts with the patient's age"),
    "CPT_UNKNOWN": ("coding", "a procedure code is neither priced (RVU) nor on the known CPT/HCPCS list"),
    "MODIFIER_INVALID": ("coding", "a modifier is not a valid CPT/HCPCS modifier"),
    "MUE_EXCEEDED": ("coding", "units of a procedure exceed its medically unlikely edit (per line or day)"),
    "NCCI_PTP_CONFLICT": ("coding", "two procedures on one date form an NCCI pair without a bypass"),
    # --- money and units
    "CHARGE_NEGATIVE": ("validation", "total_charge or a line_charge is negative"),
    "CHARGE_TOTAL_MISMATCH": ("validation", "total_charge differs from the sum of line charges"),
    "CHARGE_OUT_OF_RANGE": ("data_quality", "a charge exceeds numeric(12,2) or is not a finite number"),
    "UNITS_INVALID": ("validation", "line units are not in 0 < units <= 9999"),
    # --- reference data
    "FACILITY_UNKNOWN": ("eligibility", "facility_id is not an active facility"),
    "PAYER_UNKNOWN": ("eligibility", "payer_id is not an active payer"),
    "FINANCIAL_CLASS_UNKNOWN": ("eligibility", "financial_class is not an active financial class"),
    "PRIOR_AUTH_MISSING": ("eligibility", "the payer requires prior authorisation and none is on the claim"),
    # --- duplicates
    "DUPLICATE_CLAIM": ("duplicate", "a line repeats a line of an earlier claim in staging"),
    "DUPLICATE_IN_PRODUCTION": ("duplicate", "a line repeats a line of a claim already in production"),
    # --- the engine itself
    "SYSTEM_RULE_ERROR": ("system", "a rule raised an exception on this claim"),
}


def failure(code: str, field: str, message: str) -> RuleFailure:
    """A RuleFailure whose category comes from the catalogue, so a code can never carry two categories."""
    return RuleFailure(code, RULE_CATALOGUE[code][0], field, message)


def show(value: object, limit: int = 20) -> str:
    """A code value quoted for a message, cut short so a mis-mapped column cannot spill a long value."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
