"""Put hand-built claims into staging (for tests that need exact claims rather than seeded ones)."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from claims_tasks.records import CLAIM_FIELDS, DIAGNOSIS_FIELDS, LINE_FIELDS, Claim


def insert_claims(conn: psycopg.Connection, claims: Sequence[Claim]) -> None:
    cur = conn.cursor()
    with cur.copy(f"COPY staging.claim_lines ({', '.join(LINE_FIELDS)}) FROM STDIN") as copy:
        for c in claims:
            for ln in c.lines:
                copy.write_row(
                    (
                        c.claim_id,
                        ln.line_number,
                        ln.procedure_code,
                        list(ln.modifiers),
                        ln.units,
                        ln.line_charge,
                        ln.service_date,
                        ln.place_of_service,
                        list(ln.diagnosis_pointers),
                        ln.revenue_code,
                    )
                )
    with cur.copy(f"COPY staging.claim_diagnoses ({', '.join(DIAGNOSIS_FIELDS)}) FROM STDIN") as copy:
        for c in claims:
            for d in c.diagnoses:
                copy.write_row((c.claim_id, d.sequence, d.icd10_code))
    with cur.copy(f"COPY staging.claims ({', '.join(CLAIM_FIELDS)}) FROM STDIN") as copy:
        for c in claims:
            copy.write_row(tuple(getattr(c, f) for f in CLAIM_FIELDS))


def make_valid_claims(conn: psycopg.Connection, n: int, facilities: int = 8, prefix: str = "T") -> list[Claim]:
    """n claims that pass every rule against the loaded reference data, spread over facilities."""
    from dataclasses import replace

    from tests.rules.builders import make_claim

    payer = conn.execute("SELECT payer_id FROM staging.payers WHERE active ORDER BY 1 LIMIT 1").fetchone()
    fin = conn.execute("SELECT code FROM staging.financial_classes WHERE active ORDER BY 1 LIMIT 1").fetchone()
    assert payer and fin, "reference data not loaded"
    base = make_claim(payer_id=payer[0], financial_class=fin[0])
    return [
        replace(
            base,
            claim_id=f"{prefix}{i:08d}",
            facility_id=f"F{i % facilities + 1:04d}",
            # Distinct patients: otherwise the duplicate-claim edit rightly flags them.
            patient_account_number=f"{prefix}A{i}",
            subscriber_id=f"{prefix}S{i}",
        )
        for i in range(n)
    ]
