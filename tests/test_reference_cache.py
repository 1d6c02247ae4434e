"""The edit-catalogue reference data on the real staging database: what `init` loads, that loading twice
changes nothing, that a change bumps the version, and that a worker's cache reads through, is not queried
per claim and refreshes on a version change (a staging edit reaches the rules through the production sync:
tests/test_reference_masters.py has the production side in full)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from claims_tasks import pipeline, resources
from claims_tasks.config import Settings
from claims_tasks.resources import WorkerResources, build_resources
from db.edit_reference import bump_version, reference_version
from db.production_reference import sync_production_reference
from db.reference import load_reference
from db.staging import load_reference_sets
from tests.factories import insert_claims, make_valid_claims
from tests.test_pipeline import _dispatch


@pytest.fixture
def worker_resources(clean: Settings) -> Iterator[WorkerResources]:
    res = build_resources(clean)
    yield res
    res.close()


def test_init_loaded_every_edit_table(staging: psycopg.Connection) -> None:
    ref = load_reference_sets(staging)
    edits = ref.edits
    [edition] = edits.icd10
    assert edition.name.startswith("FY2026") and len(edition.billable) > 70_000
    assert {"E11.9", "I10", "W19.XXXA", "S83.241A"} <= edition.billable
    assert {"E11", "I25.1", "M54.5"} <= edition.headers and "E11.99" not in edition.billable | edition.headers
    assert edits.mue["99213"] == (1, 2) and edits.mue["20610"] == (2, 1)
    assert edits.ncci[("97530", "97140")] == 1 and edits.ncci[("93000", "93010")] == 0
    assert ("AETNA", "72148") in edits.prior_auth and ("SELF", "72148") not in edits.prior_auth
    assert {"25", "59", "XS", "LT", "JW"} <= edits.modifiers and "ZZ" not in edits.modifiers
    assert {"H0003", "T1017"} <= edits.known_procedures and "H0003" not in ref.rvu_per_unit
    assert ref.version == reference_version(staging) > 0


def test_loading_twice_changes_nothing_and_a_change_bumps_the_version(settings: Settings) -> None:
    with psycopg.connect(settings.staging_dsn) as conn:
        before = reference_version(conn)
        counts = load_reference(conn)
        conn.commit()
        assert reference_version(conn) == before
        assert counts["icd10_codes"] > 90_000 and counts["mue_limits"] >= 100 and counts["ncci_pairs"] >= 10
        # A hand edit, with no bump_version, bumps the version by itself (the s0008 triggers): the workers
        # reload. A statement that changed nothing does not.
        conn.execute("UPDATE staging.mue_limits SET max_units = 9 WHERE procedure_code = '99213'")
        conn.execute("DELETE FROM staging.icd10_codes WHERE code = 'E11.9'")
        conn.execute("INSERT INTO staging.modifiers VALUES ('ZZ', 'not a modifier')")
        conn.execute("UPDATE staging.payers SET active = false WHERE payer_id = 'NO SUCH PAYER'")
        conn.commit()
        edited = reference_version(conn)
        assert edited == before + 3
        # The next load undoes the hand edit, and bumps again.
        load_reference(conn)
        conn.commit()
        reloaded = reference_version(conn)
        assert reloaded > edited
        edits = load_reference_sets(conn).edits
        assert edits.mue["99213"] == (1, 2) and "E11.9" in edits.icd10[0].billable and "ZZ" not in edits.modifiers
        load_reference(conn)
        conn.commit()
        assert reference_version(conn) == reloaded


def test_worker_cache_reads_through_and_refreshes_on_a_version_change(
    settings: Settings,
    worker_resources: WorkerResources,
    staging: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loads: list[int] = []
    real = resources.load_reference_sets

    def counting(conn: psycopg.Connection):  # the real loader, counted
        loads.append(1)
        return real(conn)

    monkeypatch.setattr(resources, "load_reference_sets", counting)
    first = worker_resources.reference()
    assert worker_resources.reference() is first and len(loads) == 1
    cigna = {"payers": ["CIGNA"]}
    assert pipeline.rule_context(worker_resources, first, cigna).payers == {"CIGNA"}
    try:
        staging.execute("UPDATE staging.payers SET active = false WHERE payer_id = 'CIGNA'")
        # A hand edit bumps the version by itself (migration s0008). Within the check interval the cache is
        # not even asked; after it, the new version is loaded.
        assert worker_resources.reference() is first
        time.sleep(resources.REFERENCE_CHECK_SECONDS + 0.2)
        edited = worker_resources.reference()
        assert edited is not first and len(loads) == 2 and edited.version == first.version + 1
        assert "CIGNA" in first.payers and "CIGNA" not in edited.payers
        # The rules check production, read again after the bump, where CIGNA is still active: not synced yet.
        assert pipeline.rule_context(worker_resources, edited, cigna).payers == {"CIGNA"}
        with psycopg.connect(staging.info.dsn) as conn:
            # What a reference load does: production's copy brought in step, the version bumped.
            assert sync_production_reference(conn, settings.production_dsn)["payers"] == 1
        time.sleep(resources.REFERENCE_CHECK_SECONDS + 0.2)
        fresh = worker_resources.reference()
        assert fresh is not edited and len(loads) == 3 and fresh.version == edited.version + 1
        # Now production says CIGNA is no longer active.
        ctx = pipeline.rule_context(worker_resources, fresh, cigna)
        assert ctx.payers == frozenset() and "payers" in ctx.reference_loaded
        # Nothing changed since: no reload.
        time.sleep(resources.REFERENCE_CHECK_SECONDS + 0.2)
        assert worker_resources.reference() is fresh and len(loads) == 3
    finally:
        staging.execute("UPDATE staging.payers SET active = true WHERE payer_id = 'CIGNA'")
        sync_production_reference(staging, settings.production_dsn)


def test_a_chunk_reads_reference_data_once_not_per_claim(
    clean: Settings,
    worker_resources: WorkerResources,
    staging: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loads: list[int] = []
    real = resources.load_reference_sets
    monkeypatch.setattr(resources, "load_reference_sets", lambda conn: loads.append(1) or real(conn))
    insert_claims(staging, make_valid_claims(staging, 300, facilities=4, prefix="Q"))
    chunks = _dispatch(clean)

    for batch_id, _shard, ids in chunks:
        pipeline.process_chunk(worker_resources, batch_id, ids)

    assert len(chunks) >= 2 and len(loads) == 1
    states = dict(staging.execute("SELECT status, count(*) FROM staging.claims GROUP BY 1").fetchall())
    assert states == {"done": 300}


def test_a_newer_edition_is_kept_beside_the_shipped_one(settings: Settings) -> None:
    from datetime import date

    from claims_tasks.rules.diagnoses import edition_for
    from db.icd10 import Edition, edition_window, load_edition

    assert edition_window("April", 2026) == ("FY2026 (April 2026 release)", date(2025, 10, 1), date(2026, 9, 30))
    assert edition_window("October", 2026)[1:] == (date(2026, 10, 1), date(2027, 9, 30))
    newer = Edition("FY2027 (test)", date(2026, 10, 1), date(2027, 9, 30), "test", [("E11", False), ("E11.9", True)])
    with psycopg.connect(settings.staging_dsn) as conn:
        try:
            assert load_edition(conn, newer) == 3  # the edition row and two codes
            bump_version(conn)
            conn.commit()
            editions = load_reference_sets(conn).edits.icd10
            assert [e.name for e in editions] == [editions[0].name, "FY2027 (test)"]
            assert edition_for(editions, date(2026, 3, 1)) is editions[0]
            assert edition_for(editions, date(2026, 11, 1)).billable == {"E11.9"}
            assert load_edition(conn, newer) == 0  # loading it again changes nothing
        finally:
            conn.rollback()
            conn.execute("DELETE FROM staging.icd10_codes WHERE edition = 'FY2027 (test)'")
            conn.execute("DELETE FROM staging.icd10_editions WHERE edition = 'FY2027 (test)'")
            bump_version(conn)
            conn.commit()


def test_an_unpriced_known_code_passes_and_adds_nothing_to_the_expected_reimbursement(
    clean: Settings, worker_resources: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    from dataclasses import replace

    base, unknown = make_valid_claims(staging, 2, facilities=1, prefix="U")
    unpriced = replace(base, lines=(base.lines[0], replace(base.lines[1], procedure_code="T1017", modifiers=())))
    unknown = replace(unknown, lines=(unknown.lines[0], replace(unknown.lines[1], procedure_code="T9999")))
    insert_claims(staging, [unpriced, unknown])
    [(batch_id, _shard, ids)] = _dispatch(clean)

    counts = pipeline.process_chunk(worker_resources, batch_id, ids)

    assert (counts.done, counts.failed) == (1, 1)
    price = worker_resources.reference().rvu_per_unit["99213"]
    row = production.execute("SELECT expected_reimbursement FROM claims WHERE claim_id = %s", (unpriced.claim_id,))
    assert row.fetchone() == (
        pipeline.expected_reimbursement(replace(unpriced, lines=unpriced.lines[:1]), {"99213": price}),
    )
    failed = production.execute("SELECT rule_codes, failures::text FROM failed_claims").fetchone()
    assert failed is not None and failed[0] == ["CPT_UNKNOWN"] and "'T9999'" in failed[1]
