"""Date checks: order, bounds, lines within the claim, timely filing.

Dates are patient data (HIPAA counts service and birth dates as identifiers), so messages name the field
and never its value. Only subtraction of dates is used, never date + timedelta, so year 1 and year 9999
compare and subtract without overflowing.
"""

from __future__ import annotations

from datetime import date, datetime

from claims_tasks.records import Claim, RuleFailure

from .catalogue import failure
from .context import RuleContext

EARLIEST = date(1900, 1, 1)
_BOUNDED = ("service_from", "service_to", "date_of_birth", "received_at")


def received_date(claim: Claim) -> date | None:
    """The receipt date of the claim (received_at's calendar date), from the claim, never the clock."""
    received = claim.received_at
    if isinstance(received, datetime):
        return received.date()
    return received


def check_date_order(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """DATE_RANGE_INVERTED, DOB_AFTER_SERVICE: service_from <= service_to, date_of_birth <= service_from.

    Source: X12 837P DTP*472 RD8 range (from-through) and DMG02 birth date; CMS-1500 items 3 and 24A.
    Skipped for any pair with a missing side (REQUIRED_FIELD reports that).
    """
    out: list[RuleFailure] = []
    start, end, dob = claim.service_from, claim.service_to, claim.date_of_birth
    if start is not None and end is not None and start > end:
        out.append(failure("DATE_RANGE_INVERTED", "service_from", "service_from is after service_to"))
    if dob is not None and start is not None and dob > start:
        out.append(failure("DOB_AFTER_SERVICE", "date_of_birth", "date_of_birth is after service_from"))
    return out


def check_date_bounds(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """DATE_IN_FUTURE, DATE_IMPLAUSIBLE: every date lies in 1900-01-01..ctx.today.

    Checks service_from, service_to, date_of_birth, each line's service_date and the receipt date.
    Source: a claim bills services already furnished to a patient already born, and is received by now
    (X12 837P DTP*472 service dates, DMG02 birth date; CMS Pub. 100-04 ch. 1 §70 counts filing time from
    the date of service). The 1900-01-01 floor is this project's: earlier dates are keying or conversion
    errors (a 0001-01-01 default, a two-digit year).
    """
    today = ctx.today
    out: list[RuleFailure] = []
    values = (claim.service_from, claim.service_to, claim.date_of_birth, received_date(claim))
    for value in values:
        if value is not None and not EARLIEST <= value <= today:
            out.extend(
                _out_of_bounds(name, v, today)
                for name, v in zip(_BOUNDED, values, strict=True)
                if v is not None and not EARLIEST <= v <= today
            )
            break
    for i, line in enumerate(claim.lines):
        value = line.service_date
        if value is not None and not EARLIEST <= value <= today:
            out.append(_out_of_bounds(f"lines[{i}].service_date", value, today))
    return out


def _out_of_bounds(name: str, value: date, today: date) -> RuleFailure:
    if value > today:
        return failure("DATE_IN_FUTURE", name, f"{name} is after today ({today.isoformat()})")
    return failure("DATE_IMPLAUSIBLE", name, f"{name} is before {EARLIEST.isoformat()}")


def check_line_dates(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """LINE_DATE_OUTSIDE_CLAIM: each line's service_date lies within service_from..service_to.

    Source: X12 837P loop 2400 DTP*472 must fall within the claim-level loop 2300 service period.
    Only checked when both claim dates are present and in order (else DATE_RANGE_INVERTED speaks).
    """
    start, end = claim.service_from, claim.service_to
    if start is None or end is None or start > end:
        return []
    out: list[RuleFailure] = []
    for i, line in enumerate(claim.lines):
        value = line.service_date
        if value is not None and not start <= value <= end:
            out.append(
                failure(
                    "LINE_DATE_OUTSIDE_CLAIM",
                    f"lines[{i}].service_date",
                    f"line {line.line_number} service_date is outside service_from..service_to",
                )
            )
    return out


def check_timely_filing(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """TIMELY_FILING: received no more than ctx.timely_filing_days after service_to.

    Source: 42 CFR 424.44 and CMS Pub. 100-04 ch. 1 §70 (Medicare: 12 months / 365 days from the date of
    service); other payers set their own limit, hence the context value. Skipped when service_to or
    received_at is missing.
    """
    end, received = claim.service_to, received_date(claim)
    if end is None or received is None:
        return []
    days = (received - end).days
    if days <= ctx.timely_filing_days:
        return []
    return [
        failure(
            "TIMELY_FILING",
            "received_at",
            f"received_at is {days} days after service_to; the limit is {ctx.timely_filing_days}",
        )
    ]
