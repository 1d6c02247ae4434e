"""Staging's dates as Python can hold them: the SQL that reads a date or timestamp column for a chunk.

PostgreSQL dates run from 4713 BC to 5874897 AD; Python's from year 1 to 9999. Staging stores whatever
arrives (a loose schema, rules reject later), so one claim dated `10000-01-01` or `0044-03-15 BC` made
every reader of its chunk raise, and the whole chunk failed, retried and was dead-lettered, good claims and
all (tests/reliability/test_hostile_input.py). Read through these expressions, such a date becomes the
nearest date Python can hold: still before 1900 or after today, so the date rules still fail the claim
(DATE_IMPLAUSIBLE, DATE_IN_FUTURE), alone. Timestamps keep a day's margin so that no session time zone can
turn them into year 0 or 10000 on the way out.
"""

from __future__ import annotations

DATE_COLUMNS = frozenset({"date_of_birth", "service_from", "service_to", "service_date"})
TIMESTAMP_COLUMNS = frozenset({"received_at"})

# CASE, not LEAST/GREATEST: those skip NULLs, and a missing date must stay missing (not become year 1).
_CLAMP = "CASE WHEN {{col}} < {low} THEN {low} WHEN {{col}} > {high} THEN {high} ELSE {{col}} END"
_DATE = _CLAMP.format(low="DATE '0001-01-01'", high="DATE '9999-12-31'")
_TIMESTAMP = _CLAMP.format(low="TIMESTAMPTZ '0001-01-02 00:00:00+00'", high="TIMESTAMPTZ '9999-12-30 00:00:00+00'")


def bounded(name: str, alias: str | None = None) -> str:
    """The SQL expression reading column `name` (of `alias`, if given) within Python's range. Other columns
    are returned as they are. No AS: callers that need the column's name add it."""
    col = f"{alias}.{name}" if alias else name
    if name in DATE_COLUMNS:
        return _DATE.format(col=col)
    if name in TIMESTAMP_COLUMNS:
        return _TIMESTAMP.format(col=col)
    return col


def select_list(names: tuple[str, ...] | list[str], alias: str | None = None) -> str:
    """A SELECT list of these columns, bounded, in order."""
    return ", ".join(bounded(n, alias) for n in names)
