"""Fixture files and small helpers shared by the X12 tests."""

from __future__ import annotations

import io
from pathlib import Path

from claims_tasks.x12 import ClaimRows, Lookups, payer_aliases, read_837
from db.reference import facility_rows, reference_rows

FIXTURES = Path(__file__).with_name("fixtures")
P_FILE = FIXTURES / "837p_2018.x12"
I_FILE = FIXTURES / "837i_2019.x12"


def lookups() -> Lookups:
    """What db/x12_import.load_lookups reads after `claims-tasks init`, without a database."""
    return Lookups(
        facility_by_npi={npi: fid for fid, _name, npi, _state in facility_rows(50)},
        payer_ids=frozenset(row[0] for row in reference_rows()["payers"]),
        payer_aliases=payer_aliases(),
    )


def read_text(text: str, name: str = "test.x12") -> list:
    return list(read_837(io.BytesIO(text.encode()), name, lookups()))


def claims_of(text: str) -> list[ClaimRows]:
    return [item for item in read_text(text) if isinstance(item, ClaimRows)]


def by_account(text: str) -> dict[str, tuple[dict, list[dict], list[dict]]]:
    """Claims of a file keyed by CLM01, as named values."""
    out = {}
    for claim in claims_of(text):
        head, lines, dx = claim.as_dicts()
        out[head["patient_account_number"]] = (head, lines, dx)
    return out


def line_of(text: str, prefix: str, nth: int = 1) -> int:
    """1-based number of the nth line starting with prefix: the fixtures hold one segment per line, so
    this is the segment number an error must name."""
    seen = 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(prefix):
            seen += 1
            if seen == nth:
                return number
    raise AssertionError(f"no line {nth} starting with {prefix!r}")


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, old
    return text.replace(old, new, 1)
