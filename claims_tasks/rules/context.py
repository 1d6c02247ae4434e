"""What rules may know besides the claim: today's date, the filing limit and the active reference sets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class RuleContext:
    """Everything a rule reads besides the claim. Built once per chunk by the caller; rules never do I/O.

    An empty reference set means "not loaded": the matching known-check (FACILITY_UNKNOWN, PAYER_UNKNOWN,
    FINANCIAL_CLASS_UNKNOWN) is skipped rather than failing every claim. Any iterable of strings is
    accepted for the sets and stored as a frozenset.

    Attributes:
        today: The date "in the future" is measured against; pass it in the zone received_at is stored in.
        timely_filing_days: Days allowed from service_to to receipt (received_at) before TIMELY_FILING.
        facilities: Active facility ids.
        payers: Active payer ids.
        financial_classes: Active financial class codes.
        known_procedures: Procedure codes in the RVU table (not checked yet; reserved for a later rule).
    """

    today: date
    timely_filing_days: int = 365
    facilities: frozenset[str] = frozenset()
    payers: frozenset[str] = frozenset()
    financial_classes: frozenset[str] = frozenset()
    known_procedures: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if isinstance(self.today, datetime):  # a datetime would make every date comparison raise
            object.__setattr__(self, "today", self.today.date())
        elif not isinstance(self.today, date):
            raise TypeError(f"RuleContext.today must be a date, got {type(self.today).__name__}")
        if self.timely_filing_days < 0:
            raise ValueError(f"RuleContext.timely_filing_days must be >= 0, got {self.timely_filing_days}")
        for name in ("facilities", "payers", "financial_classes", "known_procedures"):
            value: Iterable[str] = getattr(self, name)
            if not isinstance(value, frozenset):
                object.__setattr__(self, name, frozenset(value))
