"""Duplicate-claim lookups against the real staging and production databases, and through process_chunk."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import psycopg
import pytest

from claims_tasks import pipeline
from claims_tasks.config import Settings
from claims_tasks.records import Claim
from claims_tasks.resources import WorkerResources, build_resources
from claims_tasks.rules.duplicates import line_keys
from db.duplicates import find_duplicates, production_holders, staging_earliest
from tests.factories import insert_claims, make_valid_claims
from tests.test_pipeline import _dispatch


@pytest.fixture
def resources(clean: Settings) -> Iterator[WorkerResources]:
    res = build_resources(clean)
    yield res
    res.close()


def _keys(claim: Claim) -> set:
    return {key for _, key in line_keys(claim)}


def _codes(production: psycopg.Connection) -> dict[str, list[str]]:
    return dict(production.execute("SELECT claim_id, rule_codes FROM failed_claims").fetchall())


def test_staging_lookup_finds_the_earliest_holder(clean: Settings, staging: psycopg.Connection) -> None:
    a, b, other = make_valid_claims(staging, 3, prefix="D")
    b = replace(a, claim_id="D00000005", patient_account_number="DA5")
    # two more copies: a later one, and a void with the smallest id, which is never an original
    later = replace(a, claim_id="D00000006", patient_account_number="DA6")
    void = replace(a, claim_id="D0", claim_frequency="8")
    insert_claims(staging, [a, b, other, later, void])

    found = staging_earliest(staging, _keys(b) | _keys(other))

    assert found == {**dict.fromkeys(_keys(b), a.claim_id), **dict.fromkeys(_keys(other), other.claim_id)}


def test_staging_key_matches_python_key(clean: Settings, staging: psycopg.Connection) -> None:
    """Every part of the SQL key is computed as line_keys computes it: sorted modifiers, billing NPI when
    the rendering one is blank, service_from when a line has no date, numerically equal charges."""
    [a] = make_valid_claims(staging, 1, prefix="K")
    stored = replace(
        a,
        rendering_npi="  ",
        lines=(replace(a.lines[0], modifiers=("59", "25"), service_date=None,
                       line_charge=Decimal("100.0")), a.lines[1]),
    )  # fmt: skip
    insert_claims(staging, [stored])
    probe = replace(
        a,
        claim_id="K99",
        rendering_npi=None,
        lines=(replace(a.lines[0], modifiers=("25", "59"), service_date=a.service_from), a.lines[1]),
    )
    assert staging_earliest(staging, _keys(probe)) == dict.fromkeys(_keys(probe), stored.claim_id)


def test_production_lookup_and_a_claim_never_matches_itself(
    clean: Settings, resources: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    [a] = make_valid_claims(staging, 1, prefix="P")
    insert_claims(staging, [a])
    [(batch_id, _shard, ids)] = _dispatch(clean)
    assert pipeline.process_chunk(resources, batch_id, ids).done == 1

    assert production_holders(production, _keys(a)) == dict.fromkeys(_keys(a), (a.claim_id, a.claim_id))
    index = find_duplicates(staging, production, [a])
    from claims_tasks.rules import validate_claim
    from claims_tasks.rules.duplicates import check_duplicates

    ctx = pipeline.rule_context(resources, resources.reference())
    assert check_duplicates(a, replace(ctx, duplicates=index)) == []
    assert validate_claim(a, replace(ctx, duplicates=index)) == []


def test_chunk_flags_the_later_copy_only(
    clean: Settings, resources: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    claims = make_valid_claims(staging, 20, facilities=1, prefix="W")
    later = replace(claims[3], claim_id="W00000099", patient_account_number="WA99")
    replacement = replace(claims[4], claim_id="W00000098", claim_frequency="7")
    insert_claims(staging, [*claims, later, replacement])
    [(batch_id, _shard, ids)] = _dispatch(clean)

    counts = pipeline.process_chunk(resources, batch_id, ids)

    assert (counts.done, counts.failed) == (21, 1)
    failed = _codes(production)
    assert failed == {later.claim_id: ["DUPLICATE_CLAIM"]}
    category = production.execute("SELECT failure_category FROM failed_claims").fetchone()
    assert category == ("duplicate",)


def test_across_chunks_and_against_production(
    clean: Settings, resources: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    first = make_valid_claims(staging, 5, facilities=1, prefix="X")
    insert_claims(staging, first)
    [(batch_id, _shard, ids)] = _dispatch(clean)
    assert pipeline.process_chunk(resources, batch_id, ids).done == 5
    # Later batches: a copy with a larger claim_id (staging and production both hold the original), and
    # one with a smaller id whose original is only known to production (staging no longer has it).
    later = replace(first[0], claim_id="X99999999", patient_account_number="XA99")
    staging.execute("DELETE FROM staging.claims WHERE claim_id = %s", (first[1].claim_id,))
    earlier_id = replace(first[1], claim_id="X", patient_account_number="XA0")
    insert_claims(staging, [later, earlier_id])
    [(batch_id, _shard, ids)] = _dispatch(clean)

    counts = pipeline.process_chunk(resources, batch_id, ids)

    assert (counts.done, counts.failed) == (0, 2)
    failed = _codes(production)
    assert failed[later.claim_id] == ["DUPLICATE_CLAIM", "DUPLICATE_IN_PRODUCTION"]
    assert failed[earlier_id.claim_id] == ["DUPLICATE_IN_PRODUCTION"]


def test_redelivered_chunk_does_not_flag_itself(
    clean: Settings, resources: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    claims = make_valid_claims(staging, 30, facilities=1, prefix="R")
    insert_claims(staging, claims)
    [(batch_id, _shard, ids)] = _dispatch(clean)
    pipeline.process_chunk(resources, batch_id, ids)
    # As if the worker died after the production commit: the chunk comes again with its claims queued.
    staging.execute("UPDATE staging.claims SET status = 'queued'")
    staging.execute("UPDATE staging.batches SET done = 0, failed = 0, status = 'running', finished_at = NULL")
    # And one claim production lost (so it is validated again while the other 29 are in production).
    production.execute("DELETE FROM claim_lines WHERE claim_id = %s", (claims[0].claim_id,))
    production.execute("DELETE FROM claim_diagnoses WHERE claim_id = %s", (claims[0].claim_id,))
    production.execute("DELETE FROM claims WHERE claim_id = %s", (claims[0].claim_id,))

    again = pipeline.process_chunk(resources, batch_id, ids)

    assert (again.already, again.done, again.failed) == (29, 1, 0)
    assert _codes(production) == {}
    assert production.execute("SELECT count(*) FROM claims").fetchone() == (30,)
