"""What the 837 reader yields, and the reference data it maps through. Plain values, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from claims_tasks.records import CLAIM_FIELDS, DIAGNOSIS_FIELDS, LINE_FIELDS

# Row layouts of ClaimRows: records.CLAIM_FIELDS etc. first, then the staging columns the X12 import adds
# (migration s0002; docs/X12.md says what each holds).
CLAIM_COLUMNS: tuple[str, ...] = (
    *CLAIM_FIELDS,
    "claim_type",
    "bill_type",
    "referring_npi",
    "attending_npi",
    "service_facility_npi",
)
# revenue_code (SV201) is one of LINE_FIELDS: the pipeline carries it to production.
LINE_COLUMNS: tuple[str, ...] = (*LINE_FIELDS, "service_date_to", "unit_basis")
DIAGNOSIS_COLUMNS: tuple[str, ...] = (*DIAGNOSIS_FIELDS, "qualifier")

UNKNOWN_FACILITY_PREFIX = "NPI:"


@dataclass(slots=True)
class ClaimRows:
    """One claim as staging rows: claim (CLAIM_COLUMNS), lines (LINE_COLUMNS), diagnoses
    (DIAGNOSIS_COLUMNS). Values are text as PostgreSQL reads it, None for null, except the line number and
    diagnosis sequence (int): dates CCYYMMDD as sent (checked), amounts and units as sent (checked X12
    decimals), received_at an ISO timestamp in UTC, modifiers and diagnosis pointers array literals
    ({25,59}). Text keeps both ends cheap: the writer only joins, and each value is what the file said."""

    claim: tuple
    lines: list[tuple]
    diagnoses: list[tuple]
    segment: int  # the claim's CLM segment number, for messages

    @property
    def claim_id(self) -> str:
        return self.claim[0]

    def as_dicts(self) -> tuple[dict, list[dict], list[dict]]:
        """Named values, for tests and debugging."""
        return (
            dict(zip(CLAIM_COLUMNS, self.claim, strict=True)),
            [dict(zip(LINE_COLUMNS, ln, strict=True)) for ln in self.lines],
            [dict(zip(DIAGNOSIS_COLUMNS, d, strict=True)) for d in self.diagnoses],
        )


@dataclass(frozen=True)
class Lookups:
    """Reference data the mapping needs, read once per import by the caller (db/x12_import.py)."""

    facility_by_npi: Mapping[str, str]
    payer_ids: frozenset[str]
    payer_aliases: Mapping[str, str] = field(default_factory=dict)

    def facility(self, billing_npi: str | None, service_npi: str | None) -> str | None:
        """The facility whose NPI is the billing provider's, else the service facility's (NM1*77). An
        unknown NPI is kept as NPI:<npi>, so that the claim fails FACILITY_UNKNOWN naming it."""
        by_npi = self.facility_by_npi
        found = by_npi.get(billing_npi) if billing_npi else None
        if found is None and service_npi:
            found = by_npi.get(service_npi)
        if found is None and billing_npi:
            found = UNKNOWN_FACILITY_PREFIX + billing_npi
        return found

    def payer(self, edi_id: str | None) -> str | None:
        """Our payer_id for an NM1*PR NM109: itself when it is one of ours, else its alias, else as sent
        (so that PAYER_UNKNOWN names it)."""
        if not edi_id or edi_id in self.payer_ids:
            return edi_id or None
        return self.payer_aliases.get(edi_id, edi_id)
