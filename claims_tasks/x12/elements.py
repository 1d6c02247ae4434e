"""Element syntax: the X12 data types the mapping reads (DT dates, TM times, R decimals), checked strictly.

Each parser raises Reject with a reason naming the element (never its value: dates and ids are patient
data); the reader adds the file and the segment number.
"""

from __future__ import annotations

import re
from datetime import date


class Reject(Exception):
    """The current segment (or the one named) is malformed; the message is the reason."""

    def __init__(self, reason: str, segment: int | None = None, segment_id: str | None = None) -> None:
        super().__init__(reason, segment, segment_id)
        self.reason, self.segment, self.segment_id = reason, segment, segment_id


_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)").fullmatch
MAX_CHARGE_DIGITS = 14  # staging numeric(16,2)
MAX_UNITS_DIGITS = 9  # staging numeric(12,3)
# Values already checked: a file repeats the same dates, amounts and unit counts many times. Capped, so
# that a file of all-distinct values cannot grow them without bound.
_CACHE_CAP = 50_000
_DATES: set[str] = set()
_DECIMALS: dict[int, set[str]] = {}  # by digit limit


def parse_date(value: str, what: str) -> str:
    """CCYYMMDD (X12 DT), checked to be a calendar date, returned as sent: PostgreSQL reads it as a date
    (ISO 8601 basic) and it sorts as one."""
    if value in _DATES:
        return value
    if len(value) != 8 or not (value.isascii() and value.isdigit()):
        raise Reject(f"{what} is not a CCYYMMDD date")
    try:
        date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise Reject(f"{what} is not a calendar date") from None
    if len(_DATES) >= _CACHE_CAP:
        _DATES.clear()
    _DATES.add(value)
    return value


def parse_period(qualifier: str, value: str, what: str) -> tuple[str, str | None]:
    """DTP02/DTP03: D8 one date, RD8 a CCYYMMDD-CCYYMMDD range; the second date is None for D8."""
    if qualifier == "D8":
        return parse_date(value, what), None
    if qualifier == "RD8":
        start, sep, end = value.partition("-")
        if not sep:
            raise Reject(f"{what} is not a CCYYMMDD-CCYYMMDD range (RD8)")
        return parse_date(start, what), parse_date(end, what)
    raise Reject(f"date format qualifier {qualifier!r} is not D8 or RD8")


def parse_decimal(value: str, what: str, max_digits: int = MAX_CHARGE_DIGITS) -> str:
    """X12 R: optional minus, digits, optional decimal point; no exponent, spaces or separators. Returned
    as sent (PostgreSQL's numeric input reads exactly this)."""
    checked = _DECIMALS.setdefault(max_digits, set())
    if value in checked:
        return value
    if not value or _DECIMAL(value) is None:
        raise Reject(f"{what} is not a decimal number")
    if len(value.lstrip("-").partition(".")[0].lstrip("0")) > max_digits:
        raise Reject(f"{what} has more than {max_digits} integer digits")
    if len(checked) >= _CACHE_CAP:
        checked.clear()
    checked.add(value)
    return value


def parse_units(value: str, what: str) -> str:
    return parse_decimal(value, what, MAX_UNITS_DIGITS)


def parse_time(value: str, what: str) -> tuple[int, int, int]:
    """HHMM[SS[D..]] (X12 TM); an empty value is midnight."""
    if not value:
        return 0, 0, 0
    if len(value) < 4 or not (value.isascii() and value.isdigit()):
        raise Reject(f"{what} is not an HHMM[SS] time")
    hh, mm, ss = int(value[:2]), int(value[2:4]), int(value[4:6] or 0)
    if hh > 23 or mm > 59 or ss > 59:
        raise Reject(f"{what} is not a clock time")
    return hh, mm, ss


def at(el: list[str], i: int) -> str:
    """Element i of a segment, "" when the segment is shorter (X12 drops trailing empty elements)."""
    return el[i] if len(el) > i else ""
