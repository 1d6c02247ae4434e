"""Reference data in staging: payers, financial classes, RVUs (from db/reference/*.csv) and facilities
(generated, deterministic). Upserts only, so loading twice changes nothing; the caller commits."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import psycopg

from claims_tasks.synthetic import ReferenceCodes, facility_npis, typical_charge

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


def _upsert(table: str, key: str, columns: tuple[str, ...]) -> str:
    """INSERT .. ON CONFLICT DO UPDATE that leaves an unchanged row alone (no new row version)."""
    cols = (key, *columns)
    return (
        f"INSERT INTO staging.{table} AS t ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in columns)} "
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
            (r["payer_id"], r["name"], r["payer_type"] or None, _bool(r["active"]))
            for r in _read("payers.csv")
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
    row = conn.execute(f"SELECT count(*) FROM staging.{table}").fetchone()  # table names are ours
    return int(row[0]) if row else 0


def ensure_facilities(conn: psycopg.Connection, n: int) -> int:
    """Upsert F0001..F{n}; returns n. Does not commit."""
    with conn.cursor() as cur:
        cur.executemany(_UPSERTS["facilities"], facility_rows(n))
    return n


def load_reference(conn: psycopg.Connection) -> dict[str, int]:
    """Upsert payers, financial classes, RVUs and facilities F0001..F0050; returns each table's row count.
    Safe to run twice. Does not commit."""
    with conn.cursor() as cur:
        for table, rows in reference_rows().items():
            cur.executemany(_UPSERTS[table], rows)
    ensure_facilities(conn, DEFAULT_FACILITIES)
    return {t: _count(conn, t) for t in ("payers", "financial_classes", "rvu_values", "facilities")}


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
    return ReferenceCodes(
        procedure_codes=tuple(p[0] for p in procs),
        typical_charges=tuple(
            typical_charge(float(p[1]), float(p[2]), float(p[3]), float(p[4])) for p in procs
        ),
        payer_ids=tuple(p[0] for p in payers),
        payer_types=tuple(p[1] for p in payers),
        financial_classes=tuple(c[0] for c in classes),
    )


def reference_codes_from_files() -> ReferenceCodes:
    """What read_reference_codes gives after load_reference on an empty database, without a database."""
    procs = sorted(_read("rvu_values.csv"), key=lambda r: r["procedure_code"])
    payers = sorted((r for r in _read("payers.csv") if _bool(r["active"])), key=lambda r: r["payer_id"])
    classes = sorted(r["code"] for r in _read("financial_classes.csv") if _bool(r["active"]))
    return ReferenceCodes(
        procedure_codes=tuple(r["procedure_code"] for r in procs),
        typical_charges=tuple(
            typical_charge(
                float(r["work_rvu"]), float(r["pe_rvu"]), float(r["mp_rvu"]), float(r["conversion_factor"])
            )
            for r in procs
        ),
        payer_ids=tuple(r["payer_id"] for r in payers),
        payer_types=tuple(r["payer_type"] or None for r in payers),
        financial_classes=tuple(classes),
    )
