"""Production sharded over two databases by facility (CLAIMS_PRODUCTION_SHARDS): each valid claim lands in
its facility's shard and nowhere else, failed claims stay home, a redelivery writes nothing twice, a
duplicate is found across shards, an accepted claim goes to its shard, and reconcile sees the whole ledger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest

from claims_tasks import failures, pipeline
from claims_tasks.config import Settings, load_settings
from claims_tasks.resources import WorkerResources, build_resources
from claims_tasks.sharding import shard_for
from db import engines
from db.ledger import reconcile
from tests.factories import insert_claims, make_valid_claims
from tests.tables import PRODUCTION_TABLES
from tests.test_pipeline import _dispatch


@pytest.fixture(scope="module")
def second_shard(test_env: dict[str, str]) -> Iterator[str]:
    dsn = test_env["CLAIMS_PRODUCTION_DSN"] + "_shard1"
    engines.ensure_database(dsn, "production")
    engines.migrate(dsn, "production")
    try:
        yield dsn
    finally:
        engines.drop_database(dsn)


@pytest.fixture
def sharded(clean: Settings, second_shard: str) -> Iterator[tuple[Settings, WorkerResources, list[str]]]:
    with psycopg.connect(second_shard, autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(PRODUCTION_TABLES))
    dsns = [clean.production_dsn, second_shard]
    settings = load_settings(production_shards=",".join(dsns))
    res = build_resources(settings)
    try:
        yield settings, res, dsns
    finally:
        res.close()


def _claims_in(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute("SELECT claim_id FROM claims")}


def test_claims_go_to_their_facility_shard_and_reconcile_sees_them_all(
    sharded: tuple[Settings, WorkerResources, list[str]], staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    settings, res, dsns = sharded
    claims = make_valid_claims(staging, 80, facilities=8, prefix="S")
    claims[0] = replace(claims[0], billing_npi="1234567890")  # fails: its row stays home
    insert_claims(staging, claims)
    chunks = _dispatch(settings)

    counts = [pipeline.process_chunk(res, b, ids) for b, _s, ids in chunks]
    again = [pipeline.process_chunk(res, b, ids) for b, _s, ids in chunks]  # redelivered: nothing twice

    assert sum(c.done for c in counts) == 79 and sum(c.failed for c in counts) == 1
    assert sum(c.done + c.failed for c in again) == 0
    where = {c.claim_id: shard_for(c.facility_id, 2) for c in claims[1:]}
    assert set(where.values()) == {0, 1}
    for k, dsn in enumerate(dsns):
        assert _claims_in(dsn) == {cid for cid, s in where.items() if s == k}
    with psycopg.connect(dsns[1]) as conn:
        assert conn.execute("SELECT count(*) FROM failed_claims").fetchone() == (0,)
    assert production.execute("SELECT claim_id FROM failed_claims").fetchall() == [(claims[0].claim_id,)]

    whole = reconcile(settings.staging_dsn, settings.production_dsn, claim_shards=dsns)
    assert whole.ok, whole.as_dict()
    assert whole.states["done"] == 79
    home_only = reconcile(settings.staging_dsn, settings.production_dsn)
    assert home_only.missing == len([s for s in where.values() if s == 1])


def test_a_duplicate_is_found_in_another_shard(
    sharded: tuple[Settings, WorkerResources, list[str]], staging: psycopg.Connection
) -> None:
    settings, res, _dsns = sharded
    first = make_valid_claims(staging, 8, facilities=8, prefix="D")
    insert_claims(staging, first)
    for b, _s, ids in _dispatch(settings):
        pipeline.process_chunk(res, b, ids)
    billed = first[0]
    home_of_billed = shard_for(billed.facility_id, 2)
    other_facility = next(c.facility_id for c in first if shard_for(c.facility_id, 2) != home_of_billed)
    staging.execute("DELETE FROM staging.claims WHERE claim_id = %s", (billed.claim_id,))  # only production has it
    copy = replace(billed, claim_id="D99", facility_id=other_facility, patient_account_number="DA99")
    insert_claims(staging, [copy])
    [(batch_id, _shard, ids)] = _dispatch(settings)

    counts = pipeline.process_chunk(res, batch_id, ids)

    assert (counts.done, counts.failed) == (0, 1)
    with res.production.connection() as conn:
        row = conn.execute("SELECT rule_codes FROM failed_claims WHERE claim_id = 'D99'").fetchone()
    assert row == (["DUPLICATE_IN_PRODUCTION"],)


def test_an_accepted_claim_goes_to_its_shard(
    sharded: tuple[Settings, WorkerResources, list[str]], staging: psycopg.Connection
) -> None:
    settings, res, dsns = sharded
    claims = make_valid_claims(staging, 8, facilities=8, prefix="A")
    bad = next(c for c in claims if shard_for(c.facility_id, 2) == 1)
    insert_claims(staging, [replace(bad, rendering_npi="1234567890")])
    for b, _s, ids in _dispatch(settings):
        pipeline.process_chunk(res, b, ids)

    failures.accept(res, bad.claim_id, actor="dana", notes="payer confirmed")

    assert _claims_in(dsns[1]) == {bad.claim_id} and _claims_in(dsns[0]) == set()
    assert reconcile(settings.staging_dsn, settings.production_dsn, claim_shards=dsns).ok
