"""Reference data in staging: payers, financial classes, RVUs and the edit tables (known CPT/HCPCS codes,
modifiers, MUE limits, NCCI pairs, payer prior authorisation) from db/reference/*.csv, the ICD-10-CM code
set from the simple-icd-10-cm package (db/icd10.py), and facilities (generated, deterministic). Upserts
only, so loading twice changes nothing; whatever did change bumps staging.reference_versions, which tells
the workers to reload their cache. The caller commits."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import psycopg

from claims_tasks.rules import EditTables, Icd10Edition
from claims_tasks.synthetic import ReferenceCodes, facility_npis, typical_charge
from db import icd10
from db.edit_reference import bump_version, load_edit_tables, reference_version

REFERENCE_DIR = Path(__file__).with_name("reference")
DEFAULT_FACILITIES = 50

# fmt: off
_CITIES = (
    "Riverside", "Lakeview", "Cedar Hill", "Maplewood", "Fairview", "Oak Ridge", "Springfield", "Brookside",
    "Highland", "Pine Valley", "Westfield", "Clearwater", "Summit", "Harbor", "Greenville", "Mesa Verde",
    "Northgate", "Stonebridge", "Bayside", "Willow Creek", "Elmwood", "Redwood", "Silver Lake", "Kingsport",
)
_KINDS = (
    "Family Medicine", "Medical Center", "Orthopedic Associates", "Community Hospital", "Urgent Care",
    "Internal Medicine", "Surgery Center", "Physical Therapy", "Regional Medical Group", "Health Clinic",
    "Cardiology Group",
)
_STATES = (
    "CA", "TX", "FL", "NY", "PA", "IL", "OH", "GA", "NC", "MI", "NJ", "VA", "WA", "AZ", "MA", "TN", "IN",
    "MO", "MD", "WI", "CO", "MN", "SC", "AL", "LA", "KY", "OR", "OK", "CT", "UT",
)
# fmt: on


def _upsert(table: str, key: str | tuple[str, ...], columns: tuple[str, ...]) -> str:
    """INSERT .. ON CONFLICT DO UPDATE that leaves an unchanged row alone (no new row version)."""
    keys = (key,) if isinstance(key, str) else key
    cols = (*keys, *columns)
    return (
        f"INSERT INTO staging.{table} AS t ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "  # nosec B608 # table and column names come from this module's reference specs; values bound
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in columns)} "
        f"WHERE ({', '.join(f't.{c}' for c in columns)}) "
        f"IS DISTINCT FROM ({', '.join(f'EXCLUDED.{c}' for c in columns)})"
    )


_UPSERTS = {
    "payers": _upsert("payers", "payer_id", ("name", "payer_type", "active")),
    "financial_classes": _upsert("financial_classes", "code", ("description", "active")),
    "rvu_values": _upsert(
        "rvu_values", "procedure_code", ("description", "work_rvu", "pe_rvu", "mp_rvu", "conversion_factor")
    ),
    # `active` is not touched on conflict: a facility someone deactivated stays deactivated.
    "facilities": _upsert("facilities", "facility_id", ("name", "npi", "state")),
    "hcpcs_codes": _upsert("hcpcs_codes", "procedure_code", ("description",)),
    "modifiers": _upsert("modifiers", "modifier", ("description",)),
    "mue_limits": _upsert("mue_limits", "procedure_code", ("max_units", "mai")),
    "ncci_pairs": _upsert("ncci_pairs", ("column1", "column2"), ("modifier_indicator", "rationale")),
    "payer_prior_auth": _upsert("payer_prior_auth", ("payer_id", "procedure_code"), ("service",)),
}
# Tables whose rows are exactly the file's: a row taken out of the file is deleted (by key).
_REPLACED = {
    "hcpcs_codes": ("procedure_code",),
    "modifiers": ("modifier",),
    "mue_limits": ("procedure_code",),
    "ncci_pairs": ("column1", "column2"),
    "payer_prior_auth": ("payer_id", "procedure_code"),
}


def _read(name: str) -> list[dict[str, str]]:
    with (REFERENCE_DIR / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _bool(value: str) -> bool:
    return value.strip().lower() in ("true", "t", "1", "yes")


def reference_rows() -> dict[str, list[tuple[object, ...]]]:
    """The CSV files as upsert parameter rows, per table."""
    return {
        "payers": [
            (r["payer_id"], r["name"], r["payer_type"] or None, _bool(r["active"])) for r in _read("payers.csv")
        ],
        "financial_classes": [
            (r["code"], r["description"], _bool(r["active"])) for r in _read("financial_classes.csv")
        ],
        "rvu_values": [
            (
                r["procedure_code"],
                r["description"],
                r["work_rvu"],
                r["pe_rvu"],
                r["mp_rvu"],
                r["conversion_factor"],
            )
            for r in _read("rvu_values.csv")
        ],
        "hcpcs_codes": [(r["procedure_code"], r["description"]) for r in _read("hcpcs_codes.csv")],
        "modifiers": [(r["modifier"], r["description"]) for r in _read("modifiers.csv")],
        "mue_limits": [(r["procedure_code"], int(r["max_units"]), int(r["mai"])) for r in _read("mue.csv")],
        "ncci_pairs": [
            (r["column1"], r["column2"], int(r["modifier_indicator"]), r["rationale"] or None)
            for r in _read("ncci_ptp.csv")
        ],
        "payer_prior_auth": [
            (r["payer_id"], r["procedure_code"], r["service"] or None) for r in _read("payer_prior_auth.csv")
        ],
    }


def facility_rows(n: int) -> list[tuple[str, str, str, str]]:
    """F0001..F{n}: (facility_id, name, npi, state), the same every time."""
    npis = facility_npis(np.arange(1, n + 1))
    rows = []
    for k in range(1, n + 1):
        name = f"{_CITIES[(k * 7) % len(_CITIES)]} {_KINDS[k % len(_KINDS)]}"
        rows.append((f"F{k:04d}", name, str(int(npis[k - 1])), _STATES[(k * 11) % len(_STATES)]))
    return rows


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM staging.{table}").fetchone()  # nosec B608 # table names are ours (this module's reference specs)
    return int(row[0]) if row else 0


def ensure_facilities(conn: psycopg.Connection, n: int) -> int:
    """Upsert F0001..F{n} (bumping the reference version if that added or changed one); returns n.
    Does not commit."""
    with conn.cursor() as cur:
        cur.executemany(_UPSERTS["facilities"], facility_rows(n))
        if cur.rowcount:
            bump_version(conn)
    return n


def _delete_missing(conn: psycopg.Connection, table: str, keys: tuple[str, ...], rows: list[tuple]) -> int:
    """Delete rows whose key is no longer in the file; returns how many."""
    cols = ", ".join(keys)
    arrays = [[r[i] for r in rows] for i in range(len(keys))]
    unnest = ", ".join(["%s::text[]"] * len(keys))
    cur = conn.execute(
        f"DELETE FROM staging.{table} WHERE ({cols}) NOT IN (SELECT * FROM unnest({unnest}))",  # nosec B608 # table and column names are ours (this module's reference specs)
        arrays,
    )
    return cur.rowcount


def load_reference(conn: psycopg.Connection, edition: icd10.Edition | None = None) -> dict[str, int]:
    """Upsert every reference table from the files (and the ICD-10-CM edition, by default the one the
    installed simple-icd-10-cm ships) plus facilities F0001..F0050; returns each table's row count.
    Bumps the reference version when anything changed. Safe to run twice. Does not commit."""
    changed = 0
    with conn.cursor() as cur:
        for table, rows in reference_rows().items():
            cur.executemany(_UPSERTS[table], rows)
            changed += cur.rowcount
            if table in _REPLACED:
                changed += _delete_missing(conn, table, _REPLACED[table], rows)
    changed += icd10.load_edition(conn, edition or icd10.package_edition())
    if changed or not reference_version(conn):
        bump_version(conn)
    ensure_facilities(conn, DEFAULT_FACILITIES)
    tables = ("payers", "financial_classes", "rvu_values", "facilities", *_REPLACED, "icd10_codes")
    return {t: _count(conn, t) for t in tables}


def read_reference_codes(conn: psycopg.Connection) -> ReferenceCodes:
    """What the generator draws from, as staging holds it now: all RVU codes, active payers and classes."""
    procs = conn.execute(
        "SELECT procedure_code, work_rvu, pe_rvu, mp_rvu, conversion_factor FROM staging.rvu_values "
        'ORDER BY procedure_code COLLATE "C"'
    ).fetchall()
    payers = conn.execute(
        'SELECT payer_id, payer_type FROM staging.payers WHERE active ORDER BY payer_id COLLATE "C"'
    ).fetchall()
    classes = conn.execute(
        'SELECT code FROM staging.financial_classes WHERE active ORDER BY code COLLATE "C"'
    ).fetchall()
    edits = load_edit_tables(conn)
    return ReferenceCodes(
        procedure_codes=tuple(p[0] for p in procs),
        typical_charges=tuple(typical_charge(float(p[1]), float(p[2]), float(p[3]), float(p[4])) for p in procs),
        payer_ids=tuple(p[0] for p in payers),
        payer_types=tuple(p[1] for p in payers),
        financial_classes=tuple(c[0] for c in classes),
        mue=edits.mue,
        ncci=edits.ncci,
        prior_auth=edits.prior_auth,
    )


def reference_codes_from_files() -> ReferenceCodes:
    """What read_reference_codes gives after load_reference on an empty database, without a database."""
    procs = sorted(_read("rvu_values.csv"), key=lambda r: r["procedure_code"])
    payers = sorted((r for r in _read("payers.csv") if _bool(r["active"])), key=lambda r: r["payer_id"])
    classes = sorted(r["code"] for r in _read("financial_classes.csv") if _bool(r["active"]))
    return ReferenceCodes(
        procedure_codes=tuple(r["procedure_code"] for r in procs),
        typical_charges=tuple(
            typical_charge(float(r["work_rvu"]), float(r["pe_rvu"]), float(r["mp_rvu"]), float(r["conversion_factor"]))
            for r in procs
        ),
        payer_ids=tuple(r["payer_id"] for r in payers),
        payer_types=tuple(r["payer_type"] or None for r in payers),
        financial_classes=tuple(classes),
        mue=(edits := edit_tables_from_files(with_icd10=False)).mue,
        ncci=edits.ncci,
        prior_auth=edits.prior_auth,
    )


def edit_tables_from_files(with_icd10: bool = True) -> EditTables:
    """What load_edit_tables gives after load_reference, without a database (tests, benchmarks). The
    ICD-10-CM edition comes from the installed package (a ~2 s parse) unless with_icd10 is False."""
    rows = reference_rows()
    editions: tuple[Icd10Edition, ...] = ()
    if with_icd10:
        e = icd10.package_edition()
        billable = frozenset(code for code, leaf in e.codes if leaf)
        headers = frozenset(code for code, leaf in e.codes if not leaf)
        editions = (Icd10Edition(e.name, e.valid_from, e.valid_to, billable, headers),)
    return EditTables(
        icd10=editions,
        known_procedures=frozenset(r[0] for r in rows["hcpcs_codes"]),
        modifiers=frozenset(r[0] for r in rows["modifiers"]),
        mue={r[0]: (r[1], r[2]) for r in rows["mue_limits"]},
        ncci={(r[0], r[1]): r[2] for r in rows["ncci_pairs"]},
        prior_auth=frozenset((r[0], r[1]) for r in rows["payer_prior_auth"]),
    )
