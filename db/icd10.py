"""The ICD-10-CM code set, from the CMS/NCHS files the PyPI package simple-icd-10-cm ships, into
staging.icd10_editions / staging.icd10_codes.

What the package offers: one code-set release per package version (1.5.0 ships the FY2026 April 1, 2026
update: data/code-list-April-2026.txt and icd10c-tabular-April-1-2026.xml). `is_valid_item(code)` says
whether a code exists (dotted or not) and `is_leaf(code)` whether it has no children, i.e. is billable;
`get_all_codes()` lists chapters, blocks and codes; `change_version(...)` can load other years' files,
which are not shipped. So one edition is loaded; rules pick the edition covering a claim's service date
and fall back to the nearest one (docs/RULES.md). Importing the package parses a 10 MB XML (~1.5 s), so
only `claims-tasks init` does it; workers read the table.
"""

from __future__ import annotations

import gc
import re
import sys
import warnings
from dataclasses import dataclass
from datetime import date
from importlib import resources

import psycopg

PACKAGE = "simple_icd_10_cm"
_RELEASE = re.compile(r"code-list-(?:(?P<month>[A-Za-z]+)-)?(?P<year>\d{4})\.txt")


@dataclass(frozen=True)
class Edition:
    name: str
    valid_from: date
    valid_to: date
    source: str
    codes: list[tuple[str, bool]]  # (dotted code, billable)


def edition_window(month: str | None, year: int) -> tuple[str, date, date]:
    """Name and service-date window of a CMS release file: the fiscal year it belongs to runs from
    October 1 of the year before to September 30 (an April release is the same fiscal year's update)."""
    fiscal = year + 1 if (month or "").lower() in ("october", "july") else year
    label = f"FY{fiscal}" + (f" ({month} {year} release)" if month else "")
    return label, date(fiscal - 1, 10, 1), date(fiscal, 9, 30)


def package_edition() -> Edition:
    """The edition the installed package ships: its window from the data file's name, and every code
    (categories, subcategories and full codes; not chapters or blocks) with its billable flag."""
    with warnings.catch_warnings():  # the package uses importlib.resources' deprecated read_text
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as cm  # a 1.5 s import: kept out of module import

    files = [p.name for p in resources.files(f"{PACKAGE}.data").iterdir()]
    found = [m for m in map(_RELEASE.fullmatch, files) if m]
    if len(found) != 1:
        raise RuntimeError(f"{PACKAGE}: expected one code-list-*.txt data file, found {sorted(files)}")
    match = found[0]
    name, start, end = edition_window(match["month"], int(match["year"]))
    try:
        codes = [(c, cm.is_leaf(c)) for c in cm.get_all_codes(with_dots=True) if not cm.is_chapter_or_block(c)]
    finally:
        # The package keeps its whole code tree (~100,000 linked nodes) in module globals; unloading it
        # frees that memory, which every later full garbage collection of this process would traverse.
        for module in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[module]
        del cm
        gc.collect()
    version = _package_version()
    return Edition(name, start, end, f"CMS/NCHS ICD-10-CM via {PACKAGE} {version} ({match[0]})", codes)


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("simple-icd-10-cm")
    except PackageNotFoundError:  # pragma: no cover - the import above would have failed first
        return "unknown"


def load_edition(conn: psycopg.Connection, edition: Edition) -> int:
    """Make staging hold exactly this edition's codes (other editions untouched): COPY into a temporary
    table, then insert, update and delete only what differs. Returns the rows changed. Does not commit."""
    changed = 0
    cur = conn.execute(
        "INSERT INTO staging.icd10_editions AS t (edition, valid_from, valid_to, source) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (edition) DO UPDATE SET valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to,"
        " source = EXCLUDED.source WHERE (t.valid_from, t.valid_to, t.source)"
        " IS DISTINCT FROM (EXCLUDED.valid_from, EXCLUDED.valid_to, EXCLUDED.source)",
        (edition.name, edition.valid_from, edition.valid_to, edition.source),
    )
    changed += cur.rowcount
    conn.execute("CREATE TEMPORARY TABLE icd10_load (code text PRIMARY KEY, billable boolean) ON COMMIT DROP")
    with conn.cursor().copy("COPY icd10_load (code, billable) FROM STDIN") as copy:
        for row in edition.codes:
            copy.write_row(row)
    changed += conn.execute(
        "INSERT INTO staging.icd10_codes AS t (edition, code, billable) SELECT %s, code, billable FROM icd10_load"
        " ON CONFLICT (edition, code) DO UPDATE SET billable = EXCLUDED.billable"
        " WHERE t.billable IS DISTINCT FROM EXCLUDED.billable",
        (edition.name,),
    ).rowcount
    changed += conn.execute(
        "DELETE FROM staging.icd10_codes t WHERE t.edition = %s"
        " AND NOT EXISTS (SELECT 1 FROM icd10_load l WHERE l.code = t.code)",
        (edition.name,),
    ).rowcount
    conn.execute("DROP TABLE icd10_load")
    return changed
