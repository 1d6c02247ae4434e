"""What rules may know besides the claim: today's date, the filing limit, the active reference sets, the
edit tables (ICD-10-CM, modifiers, MUE, NCCI, prior authorisation) and the chunk's duplicate matches."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

# A service line's duplicate key: (subscriber_id, date_of_birth, provider NPI, service date, procedure code,
# modifiers sorted and comma-joined, line charge). See rules/duplicates.py.
DuplicateKey = tuple[str, date, str, date, str, str, Decimal]


@dataclass(frozen=True, slots=True)
class Icd10Edition:
    """One ICD-10-CM code set (a CMS/NCHS fiscal-year release) and the service dates it governs.

    Codes are stored as CMS writes them, with the dot (``E11.9``); rules also accept the undotted form.
    """

    name: str
    valid_from: date
    valid_to: date
    billable: frozenset[str]
    headers: frozenset[str]  # valid categories/subcategories that have children: not billable


@dataclass(frozen=True, slots=True)
class EditTables:
    """The data-driven edit tables, loaded from the staging reference tables. An empty table skips its edit
    (not loaded is not the same as "nothing is allowed").

    Attributes:
        icd10: Code-set editions, oldest first; the one covering a claim's service date is used.
        known_procedures: Valid CPT/HCPCS codes beyond the RVU table (unpriced ones included).
        modifiers: Valid CPT/HCPCS Level II modifiers.
        mue: procedure_code -> (max units, MUE adjudication indicator 1/2/3).
        ncci: (column1, column2) -> modifier indicator (0: never billed together, 1: a bypass modifier allows).
        prior_auth: (payer_id, procedure_code) pairs that need a prior authorisation number.
    """

    icd10: tuple[Icd10Edition, ...] = ()
    known_procedures: frozenset[str] = frozenset()
    modifiers: frozenset[str] = frozenset()
    mue: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    ncci: Mapping[tuple[str, str], int] = field(default_factory=dict)
    prior_auth: frozenset[tuple[str, str]] = frozenset()
    ncci_codes: frozenset[str] = frozenset()  # every code in an NCCI pair; derived from ncci
    prior_auth_codes: frozenset[str] = frozenset()  # every code some payer authorises; from prior_auth

    def __post_init__(self) -> None:
        # Derived sets let a rule skip a claim none of whose codes can matter, in one lookup per line.
        if self.ncci and not self.ncci_codes:
            object.__setattr__(self, "ncci_codes", frozenset(c for pair in self.ncci for c in pair))
        if self.prior_auth and not self.prior_auth_codes:
            object.__setattr__(self, "prior_auth_codes", frozenset(code for _, code in self.prior_auth))


@dataclass(frozen=True, slots=True)
class DuplicateIndex:
    """What the databases (and the chunk itself) hold for the chunk's duplicate keys; built per chunk.

    Attributes:
        earliest: key -> the smallest claim_id (code-point order) among staging claims holding the key,
            voids left out. A claim with a larger id than this is the duplicate.
        billed: key -> (smallest, largest) claim_id among production claims holding the key, voids left
            out: two ids so that a claim can never be its own match.
        found: what check_duplicates reports, per claim (built by within_chunk from the two above).
    """

    earliest: Mapping[DuplicateKey, str] = field(default_factory=dict)
    billed: Mapping[DuplicateKey, tuple[str, str]] = field(default_factory=dict)
    # claim_id -> ((line index, other claim_id, "staging" | "production"), ...): the matches above
    # resolved once per chunk (rules/duplicates.py within_chunk), so the rule itself is one lookup.
    found: Mapping[str, tuple[tuple[int, str, str], ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RuleContext:
    """Everything a rule reads besides the claim. Built once per chunk by the caller; rules never do I/O.

    An empty reference set means "not loaded": the matching known-check (FACILITY_UNKNOWN, PAYER_UNKNOWN,
    FINANCIAL_CLASS_UNKNOWN) is skipped rather than failing every claim, unless reference_loaded names it.
    Any iterable of strings is accepted for the sets and stored as a frozenset.

    Attributes:
        today: The date "in the future" is measured against; pass it in the zone received_at is stored in.
        timely_filing_days: Days allowed from service_to to receipt (received_at) before TIMELY_FILING.
        facilities: Active facility ids.
        payers: Active payer ids.
        financial_classes: Active financial class codes.
        known_procedures: Procedure codes in the RVU table (priced); with edits.known_procedures the
            codes CPT_UNKNOWN accepts.
        edits: The data-driven edit tables (EditTables()); an empty table skips its edit.
        duplicates: This chunk's duplicate matches (DuplicateIndex()), from db/duplicates.py.
        reference_loaded: Names of the sets above ("facilities", "payers", "financial_classes") whose
            check applies even when the set is empty: a worker's sets hold only the active ids among the
            chunk's own (claims_tasks/reference_cache.py), so empty there can mean "none of them is active".
    """

    today: date
    timely_filing_days: int = 365
    facilities: frozenset[str] = frozenset()
    payers: frozenset[str] = frozenset()
    financial_classes: frozenset[str] = frozenset()
    known_procedures: frozenset[str] = frozenset()
    edits: EditTables = EditTables()
    duplicates: DuplicateIndex = DuplicateIndex()
    reference_loaded: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if isinstance(self.today, datetime):  # a datetime would make every date comparison raise
            object.__setattr__(self, "today", self.today.date())
        elif not isinstance(self.today, date):
            raise TypeError(f"RuleContext.today must be a date, got {type(self.today).__name__}")
        if self.timely_filing_days < 0:
            raise ValueError(f"RuleContext.timely_filing_days must be >= 0, got {self.timely_filing_days}")
        for name in ("facilities", "payers", "financial_classes", "known_procedures", "reference_loaded"):
            value: Iterable[str] = getattr(self, name)
            if not isinstance(value, frozenset):
                object.__setattr__(self, name, frozenset(value))
