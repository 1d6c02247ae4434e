"""process_chunk against the real databases: outcomes, idempotency, crash between the two commits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import psycopg
import pytest

from claims_tasks import dispatch as dispatcher
from claims_tasks import pipeline
from claims_tasks.config import Settings
from claims_tasks.records import claim_from_payload
from claims_tasks.resources import WorkerResources, build_resources
from tests.factories import insert_claims, make_valid_claims


@pytest.fixture
def resources(clean: Settings) -> Iterator[WorkerResources]:
    res = build_resources(clean)
    yield res
    res.close()


def _dispatch(settings: Settings) -> list[tuple[str, int, list[str]]]:
    chunks: list[tuple[str, int, list[str]]] = []
    result = dispatcher.dispatch(
        settings.staging_dsn,
        lambda b, s, ids, _priority: chunks.append((b, s, ids)),
        shards=settings.shards,
        chunk_size=settings.chunk_size,
        page_size=settings.dispatch_page_size,
    )
    assert result is not None
    return chunks


def _counts(production: psycopg.Connection) -> tuple[int, int, int, int]:
    row = production.execute(
        "SELECT (SELECT count(*) FROM claims), (SELECT count(*) FROM claim_lines),"
        " (SELECT count(*) FROM claim_diagnoses), (SELECT count(*) FROM failed_claims)"
    ).fetchone()
    assert row is not None
    return row


def test_valid_and_invalid_claims_reach_their_tables(
    clean: Settings, resources: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    claims = make_valid_claims(staging, 40, facilities=1)
    bad_npi = replace(claims[0], billing_npi="1234567890")
    negative = replace(claims[1], total_charge=Decimal("-150.00"))
    claims[:2] = [bad_npi, negative]
    insert_claims(staging, claims)
    [(batch_id, _shard, ids)] = _dispatch(clean)

    counts = pipeline.process_chunk(resources, batch_id, ids)

    assert (counts.loaded, counts.done, counts.failed) == (40, 38, 2)
    assert _counts(production) == (38, 38 * 2, 38 * 2, 2)
    rows = dict(production.execute("SELECT claim_id, rule_codes FROM failed_claims").fetchall())
    assert "NPI_CHECK_DIGIT" in rows[bad_npi.claim_id]
    assert "CHARGE_NEGATIVE" in rows[negative.claim_id]
    payload = production.execute(
        "SELECT encrypted_payload FROM failed_claims WHERE claim_id = %s", (bad_npi.claim_id,)
    ).fetchone()
    assert payload is not None
    assert claim_from_payload(resources.cipher.decrypt(bytes(payload[0]))) == bad_npi
    states = dict(staging.execute("SELECT status, count(*) FROM staging.claims GROUP BY 1").fetchall())
    assert states == {"done": 38, "failed": 2}
    batch = staging.execute("SELECT status, total, done, failed FROM staging.batches").fetchone()
    assert batch == ("finished", 40, 38, 2)


def test_same_chunk_twice_writes_nothing_twice(
    clean: Settings, resources: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    insert_claims(staging, make_valid_claims(staging, 30, facilities=1))
    [(batch_id, _shard, ids)] = _dispatch(clean)

    first = pipeline.process_chunk(resources, batch_id, ids)
    second = pipeline.process_chunk(resources, batch_id, ids)

    assert first.done == 30
    assert (second.loaded, second.done, second.failed, second.skipped) == (0, 0, 0, 30)
    assert _counts(production) == (30, 60, 60, 0)


def test_crash_between_production_and_staging_heals_on_redelivery(
    clean: Settings, resources: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    claims = make_valid_claims(staging, 20, facilities=1)
    claims[0] = replace(claims[0], rendering_npi="12345")
    insert_claims(staging, claims)
    [(batch_id, _shard, ids)] = _dispatch(clean)
    pipeline.process_chunk(resources, batch_id, ids)
    # As if the worker died after the production commit, before the staging transaction that flips the
    # status and counts the outcomes in the batch.
    staging.execute("UPDATE staging.claims SET status = 'queued'")
    staging.execute("UPDATE staging.batches SET done = 0, failed = 0, status = 'running', finished_at = NULL")

    again = pipeline.process_chunk(resources, batch_id, ids)

    assert (again.loaded, again.already, again.done, again.failed) == (20, 20, 0, 0)
    assert _counts(production) == (19, 38, 38, 1)
    states = dict(staging.execute("SELECT status, count(*) FROM staging.claims GROUP BY 1").fetchall())
    assert states == {"done": 19, "failed": 1}
    assert staging.execute("SELECT done, failed FROM staging.batches").fetchone() == (19, 1)


def test_a_value_production_refuses_fails_alone(
    clean: Settings, resources: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    claims = make_valid_claims(staging, 25, facilities=1)
    insert_claims(staging, claims)
    # A claim every rule passes but production refuses: stands for any value the rules did not foresee.
    poison = claims[7].claim_id
    production.execute(f"ALTER TABLE claims ADD CONSTRAINT ck_poison CHECK (claim_id <> '{poison}')")
    try:
        [(batch_id, _shard, ids)] = _dispatch(clean)
        counts = pipeline.process_chunk(resources, batch_id, ids)
    finally:
        production.execute("ALTER TABLE claims DROP CONSTRAINT ck_poison")

    assert (counts.done, counts.failed) == (24, 1)
    row = production.execute("SELECT claim_id, failure_category, rule_codes FROM failed_claims").fetchone()
    assert row == (poison, "system", ["SYSTEM_WRITE_ERROR"])
    assert _counts(production)[0] == 24
