"""The column path against the real databases: it reads what the record path reads, and a seeded batch
(every kind of defect, duplicates included) ends in production exactly as the record path leaves it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from claims_tasks import pipeline
from claims_tasks.columns import parse_chunk, plain_text
from claims_tasks.config import Settings
from claims_tasks.records import Claim, Diagnosis, claim_to_payload
from claims_tasks.resources import WorkerResources, build_resources
from db import chunks
from db import staging as staging_rows
from db.seed import seed_claims
from tests.factories import insert_claims, make_valid_claims
from tests.tables import PRODUCTION_TABLES
from tests.test_pipeline import _dispatch


@pytest.fixture
def resources(clean: Settings) -> Iterator[WorkerResources]:
    res = build_resources(clean)
    yield res
    res.close()


def _odd_claims(staging: psycopg.Connection) -> list[Claim]:
    base = make_valid_claims(staging, 10, facilities=1, prefix="O")
    line = base[0].lines[0]

    def revenue_only(claim: Claim, code: str | None = "0120") -> Claim:  # 837I room and board: no HCPCS
        return replace(claim, lines=tuple(replace(ln, procedure_code=None, modifiers=(), revenue_code=code)
                                          for ln in claim.lines))  # fmt: skip

    return [
        revenue_only(base[6]),  # valid: the screen passes it, production gets its revenue codes
        replace(base[7], lines=(replace(base[7].lines[0], revenue_code="0300"), *base[7].lines[1:])),
        revenue_only(base[8], "12"),  # REVENUE_CODE_INVALID
        revenue_only(base[9], None),  # neither code: LINE_REQUIRED_FIELD
        replace(base[0], rendering_npi=None, financial_class="", prior_auth_number=None, received_at=None),
        replace(base[1], lines=(replace(line, modifiers=("25", None), diagnosis_pointers=()),)),
        replace(base[2], lines=(replace(line, units=None, line_charge=Decimal("12.345"), service_date=None),)),
        replace(base[3], diagnoses=(Diagnosis(1, None), Diagnosis(2, "")), date_of_birth=None),
        replace(base[4], lines=(), total_charge=Decimal("NaN")),
        replace(base[5], patient_first_name="Zoë", patient_last_name="O'Brien-Ñúñez"),
    ]


def test_the_chunk_reads_as_the_record_path_reads_it(clean: Settings, staging: psycopg.Connection) -> None:
    seed_claims(clean.staging_dsn, 300, facilities=4, invalid_share=0.3, seed=9)
    insert_claims(staging, _odd_claims(staging))
    for batch_id, _shard, ids in _dispatch(clean):
        with psycopg.connect(clean.staging_dsn) as conn:
            raw = chunks.read_chunk(conn, batch_id, ids)
            want = {c.claim_id: c for c in staging_rows.load_chunk(conn, batch_id, ids)}
        assert plain_text(raw)
        frame = parse_chunk(raw)
        got = {c.claim_id: c for c in frame.claims_at(list(range(len(frame))))}
        assert set(got) == set(want)
        # compared as their payloads: the same values (NaN included, which never equals itself)
        assert {k: claim_to_payload(c) for k, c in got.items()} == {k: claim_to_payload(c) for k, c in want.items()}
        assert [c for c in got.values() if c.total_charge == c.total_charge] == [
            want[k] for k, c in got.items() if c.total_charge == c.total_charge
        ]


def test_a_value_that_needs_escaping_takes_the_record_path(
    clean: Settings, resources: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    claims = make_valid_claims(staging, 5, facilities=1, prefix="E")
    claims[1] = replace(claims[1], patient_last_name="Tab\there", patient_first_name="back\\slash")
    insert_claims(staging, claims)
    [(batch_id, _shard, ids)] = _dispatch(clean)
    with psycopg.connect(clean.staging_dsn) as conn:
        assert not plain_text(chunks.read_chunk(conn, batch_id, ids))

    counts = pipeline.process_chunk(resources, batch_id, ids)

    assert (counts.done, counts.failed) == (5, 0)
    names = dict(production.execute("SELECT claim_id, patient_last_name FROM claims").fetchall())
    assert names[claims[1].claim_id] == "Tab\there"


def _snapshot(production: psycopg.Connection, staging: psycopg.Connection, res: WorkerResources) -> dict:
    claims = production.execute("SELECT * FROM claims ORDER BY claim_id")
    columns = [d.name for d in claims.description]
    rows = [{k: v for k, v in zip(columns, r, strict=True) if k != "processed_at"} for r in claims.fetchall()]
    failed = [
        (cid, cat, codes, failures, priority, revenue, status, res.cipher.decrypt(bytes(payload)))
        for cid, cat, codes, failures, priority, revenue, status, payload in production.execute(
            "SELECT claim_id, failure_category, rule_codes, failures, priority, potential_revenue, status,"
            " encrypted_payload FROM failed_claims ORDER BY claim_id"
        )
    ]
    return {
        "claims": rows,
        "lines": production.execute("SELECT * FROM claim_lines ORDER BY 1, 2").fetchall(),
        "diagnoses": production.execute("SELECT * FROM claim_diagnoses ORDER BY 1, 2").fetchall(),
        "failed": failed,
        "ledger": staging.execute("SELECT claim_id, status FROM staging.claims ORDER BY 1").fetchall(),
        "batch": staging.execute("SELECT total, done, failed, review, status FROM staging.batches").fetchall(),
    }


def test_a_seeded_batch_ends_as_the_record_path_leaves_it(
    clean: Settings, resources: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    seed_claims(clean.staging_dsn, 3000, facilities=20, invalid_share=0.25, seed=21)
    insert_claims(staging, _odd_claims(staging))
    chunks_sent = _dispatch(clean)
    assert len(chunks_sent) >= 4

    by_columns = [pipeline.process_chunk(resources, b, ids) for b, _s, ids in chunks_sent]
    first = _snapshot(production, staging, resources)

    production.execute("TRUNCATE " + ", ".join(PRODUCTION_TABLES))
    staging.execute("UPDATE staging.claims SET status = 'queued'")
    staging.execute(
        "UPDATE staging.batches SET done = 0, failed = 0, review = 0, status = 'running', finished_at = NULL"
    )
    by_records = [pipeline.process_records(resources, b, ids) for b, _s, ids in chunks_sent]
    second = _snapshot(production, staging, resources)

    assert sum(c.failed for c in by_columns) == sum(c.failed for c in by_records) > 600
    for part in ("ledger", "batch", "failed", "lines", "diagnoses", "claims"):
        assert first[part] == second[part], part
    assert [c.categories for c in by_columns] == [c.categories for c in by_records]

    def retry(c: object) -> list[dict[int, list[str]]]:
        return {p: sorted(ids) for p, ids in c.retry.items()}  # type: ignore[attr-defined]

    assert [retry(c) for c in by_columns] == [retry(c) for c in by_records]
    # The 837I-style odd claims: revenue codes reach production; a bad one or none at all fails the claim.
    revenue = production.execute(
        "SELECT claim_id, line_number, procedure_code, revenue_code FROM claim_lines"
        " WHERE revenue_code IS NOT NULL ORDER BY 1, 2"
    ).fetchall()
    assert revenue == [
        ("O00000006", 1, None, "0120"),
        ("O00000006", 2, None, "0120"),
        ("O00000007", 1, "99213", "0300"),
    ]
    codes = {cid: codes for cid, _cat, codes, *_ in first["failed"]}
    assert (codes["O00000008"], codes["O00000009"]) == (["REVENUE_CODE_INVALID"], ["LINE_REQUIRED_FIELD"])
    assert date.today() >= min(r["service_from"] for r in first["claims"])
