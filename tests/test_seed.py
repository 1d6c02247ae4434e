"""Seeding staging through COPY, and the reference data load, on the test PostgreSQL database."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import date
from typing import Any

import psycopg
import pytest

from claims_tasks.config import Settings
from claims_tasks.records import CLAIM_FIELDS, DIAGNOSIS_FIELDS, LINE_FIELDS, Claim, Diagnosis, Line
from claims_tasks.rules.duplicates import within_chunk
from db.reference import load_reference
from db.seed import reserve_claim_numbers, seed_claims
from db.staging import load_reference_sets

TODAY = date(2026, 11, 25)
_ORPHANS = """
SELECT count(*) FROM staging.claims c
WHERE NOT EXISTS (SELECT 1 FROM staging.claim_lines l WHERE l.claim_id = c.claim_id)
"""


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM staging.{table}").fetchone()
    assert row is not None
    return int(row[0])


def test_seed_writes_what_it_reports(clean: Settings, staging: psycopg.Connection) -> None:
    result = seed_claims(clean.staging_dsn, 5_000, facilities=20, invalid_share=0.1, seed=11, today=TODAY)

    assert result.claims == _count(staging, "claims") == 5_000
    assert result.lines == _count(staging, "claim_lines") > 5_000
    assert result.diagnoses == _count(staging, "claim_diagnoses") > 5_000
    assert result.invalid == _count(staging, "seed_defects") == 500
    assert staging.execute("SELECT DISTINCT status FROM staging.claims").fetchall() == [("new",)]
    lo, hi = staging.execute("SELECT min(claim_id), max(claim_id) FROM staging.claims").fetchone() or (0, 0)
    assert (lo, hi) == (result.first_claim_id, result.last_claim_id)
    assert int(hi[1:]) - int(lo[1:]) == 4_999
    assert staging.execute(_ORPHANS).fetchone() == (0,)
    # arrays arrive as arrays, not text
    mods, ptrs = staging.execute(
        "SELECT modifiers, diagnosis_pointers FROM staging.claim_lines WHERE cardinality(modifiers) > 0 LIMIT 1"
    ).fetchone() or ([], [])
    assert isinstance(mods, list) and mods and isinstance(ptrs, list) and ptrs
    assert {"generate", "lines", "diagnoses", "claims"} <= set(result.timings)


def test_seeding_twice_gives_distinct_claim_ids(clean: Settings, staging: psycopg.Connection) -> None:
    first = seed_claims(clean.staging_dsn, 2_000, facilities=5, invalid_share=0.05, seed=1, today=TODAY)
    second = seed_claims(clean.staging_dsn, 2_000, facilities=5, invalid_share=0.05, seed=1, today=TODAY)

    assert first.last_claim_id is not None and second.first_claim_id is not None
    assert second.first_claim_id > first.last_claim_id
    assert staging.execute("SELECT count(DISTINCT claim_id) FROM staging.claims").fetchone() == (4_000,)
    assert _count(staging, "seed_defects") == 200


def test_concurrent_seeders_never_collide(clean: Settings, staging: psycopg.Connection) -> None:
    errors: list[BaseException] = []

    def run(seed: int) -> None:
        try:
            seed_claims(clean.staging_dsn, 1_500, facilities=5, invalid_share=0.1, seed=seed, today=TODAY)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert staging.execute("SELECT count(DISTINCT claim_id) FROM staging.claims").fetchone() == (4_500,)


def test_reservation_skips_numbers_already_in_staging(clean: Settings, staging: psycopg.Connection) -> None:
    with psycopg.connect(clean.staging_dsn) as conn:
        start = reserve_claim_numbers(conn, 10)
        staging.execute("INSERT INTO staging.claims (claim_id) VALUES (%s)", (f"C{start + 1_000:012d}",))
        assert reserve_claim_numbers(conn, 5) == start + 1_001
        assert reserve_claim_numbers(conn, 5) == start + 1_006


def test_claims_become_visible_only_after_their_lines(clean: Settings, staging: psycopg.Connection) -> None:
    """A concurrent reader (the dispatcher) never sees a claim without its lines, block after block."""
    done = threading.Event()
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["seed"] = seed_claims(
                clean.staging_dsn,
                12_000,
                facilities=5,
                invalid_share=0.05,
                seed=3,
                today=TODAY,
                block_size=500,
            )
        finally:
            done.set()

    worker = threading.Thread(target=run)
    worker.start()
    checks, partial = 0, 0
    while not done.is_set() or checks == 0:
        orphans = staging.execute(_ORPHANS).fetchone()
        assert orphans == (0,)
        partial += 0 < _count(staging, "claims") < 12_000
        checks += 1
    worker.join()
    assert result["seed"].claims == 12_000 and _count(staging, "claims") == 12_000
    assert partial > 0  # the reader did look while blocks were still arriving


def test_load_reference_is_idempotent(settings: Settings) -> None:
    versions = "SELECT payer_id, xmin::text FROM staging.payers ORDER BY 1"
    with psycopg.connect(settings.staging_dsn) as conn:
        first = load_reference(conn)
        conn.commit()
        before = conn.execute(versions).fetchall()
        second = load_reference(conn)
        conn.commit()
        again = {t: _count(conn, t) for t in first}
        assert conn.execute(versions).fetchall() == before  # unchanged rows are not rewritten
    assert first == second == again
    assert first["payers"] >= 10 and first["financial_classes"] >= 8
    assert first["rvu_values"] >= 80 and first["facilities"] >= 50


def test_seed_adds_missing_facilities(
    clean: Settings, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    try:
        seed_claims(clean.staging_dsn, 300, facilities=55, invalid_share=0.0, seed=4, today=TODAY,
                    production_dsn=clean.production_dsn)  # fmt: skip
        ids = {r[0] for r in staging.execute("SELECT facility_id FROM staging.facilities")}
        assert {f"F{k:04d}" for k in range(1, 56)} <= ids
        used = {r[0] for r in staging.execute("SELECT DISTINCT facility_id FROM staging.claims")}
        assert used <= ids
        # ... and in production, where the workers' rules look them up (db/production_reference.py).
        active = {r[0] for r in production.execute("SELECT facility_id FROM facilities WHERE active")}
        assert ids <= active
    finally:  # leave the session databases' reference data as init made it
        staging.execute("DELETE FROM staging.facilities WHERE facility_id > 'F0050'")
        production.execute("DELETE FROM facilities WHERE facility_id > 'F0050'")


def _load(conn: psycopg.Connection) -> list[Claim]:
    lines: dict[str, list[Line]] = defaultdict(list)
    for row in conn.execute(f"SELECT {', '.join(LINE_FIELDS)} FROM staging.claim_lines ORDER BY 1, 2"):
        lines[row[0]].append(
            Line(row[1], row[2], tuple(row[3] or ()), row[4], row[5], row[6], row[7], tuple(row[8] or ()), row[9])
        )
    dx: dict[str, list[Diagnosis]] = defaultdict(list)
    for row in conn.execute(f"SELECT {', '.join(DIAGNOSIS_FIELDS)} FROM staging.claim_diagnoses ORDER BY 1, 2"):
        dx[row[0]].append(Diagnosis(row[1], row[2]))
    return [
        Claim(*row, lines=tuple(lines[row[0]]), diagnoses=tuple(dx[row[0]]))
        for row in conn.execute(f"SELECT {', '.join(CLAIM_FIELDS)} FROM staging.claims")
    ]


def test_seeded_rows_read_back_validate_as_generated(clean: Settings, staging: psycopg.Connection) -> None:
    """What COPY stored (arrays, numerics, timestamps) is what the generator made: valid claims pass every
    rule, and each seeded defect fails with exactly its expected rule."""
    rules = pytest.importorskip("claims_tasks.rules")
    seed_claims(clean.staging_dsn, 3_000, facilities=20, invalid_share=0.1, seed=21, today=TODAY)

    claims = _load(staging)
    ref = load_reference_sets(staging)  # the full catalogue, as a worker runs it, the seed as one chunk
    ctx = rules.RuleContext(
        today=TODAY,
        facilities=ref.facilities,
        payers=ref.payers,
        financial_classes=ref.financial_classes,
        known_procedures=frozenset(ref.rvu_per_unit),
        edits=ref.edits,
        duplicates=within_chunk(claims),
    )
    expected = dict(staging.execute("SELECT claim_id, expected_rule FROM staging.seed_defects").fetchall())
    assert len(claims) == 3_000 and len(expected) == 300
    got = {c.claim_id: sorted({f.code for f in rules.validate_claim(c, ctx)}) for c in claims}
    assert {cid: v for cid, v in got.items() if v != ([expected[cid]] if cid in expected else [])} == {}
