"""Imported 837 claims go the whole way: dispatch, validation, production or failed_claims, reconcile."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from claims_tasks import dispatch as dispatcher
from claims_tasks import pipeline
from claims_tasks.config import Settings
from claims_tasks.resources import WorkerResources, build_resources
from db.ledger import reconcile
from db.x12_import import import_files
from tests.x12.helpers import I_FILE, P_FILE


@pytest.fixture
def resources(x12_clean: Settings) -> Iterator[WorkerResources]:
    res = build_resources(x12_clean)
    yield res
    res.close()


def test_imported_claims_end_in_production_or_failed_claims(
    x12_clean: Settings,
    resources: WorkerResources,
    staging: psycopg.Connection,
    production: psycopg.Connection,
) -> None:
    assert [r.status for r in import_files(x12_clean.staging_dsn, [P_FILE, I_FILE])] == ["imported"] * 2
    chunks: list[tuple[str, list[str]]] = []
    result = dispatcher.dispatch(
        x12_clean.staging_dsn,
        lambda batch, _shard, ids, *_: chunks.append((batch, ids)),
        shards=x12_clean.shards,
        chunk_size=x12_clean.chunk_size,
        page_size=x12_clean.dispatch_page_size,
    )
    assert result is not None and result.claims == 8

    for batch_id, ids in chunks:
        pipeline.process_chunk(resources, batch_id, ids)

    accounts = dict(staging.execute("SELECT claim_id, patient_account_number FROM staging.claims").fetchall())
    done = {accounts[cid] for (cid,) in production.execute("SELECT claim_id FROM claims")}
    failed = {
        accounts[cid]: codes for cid, codes in production.execute("SELECT claim_id, rule_codes FROM failed_claims")
    }
    assert done == {"PCN-1001", "PCN-1002", "PCN-1003", "PCN-2001", "HOSP-2001", "HOSP-2002"}, failed
    assert set(failed) == {"PCN-1004", "HOSP-2003"}
    assert "NPI_CHECK_DIGIT" in failed["PCN-1004"]  # the rendering provider's NPI
    # Received 2019-06-11 (BHT04) for a 2018-01-05 service: late by the interchange's date, not today's.
    assert "TIMELY_FILING" in failed["HOSP-2003"]
    # A 2018 interchange is not late because it was imported today: received_at came from BHT04.
    received = production.execute(
        "SELECT DISTINCT received_at FROM claims WHERE patient_account_number LIKE 'PCN-%'"
    ).fetchall()
    assert received == [(datetime(2018, 4, 2, 10, 23, tzinfo=UTC),)]
    lines = production.execute("SELECT count(*) FROM claim_lines").fetchone()
    assert lines == (2 + 1 + 2 + 2 + 2 + 2,)
    report = reconcile(x12_clean.staging_dsn, x12_clean.production_dsn)
    assert report.ok, report.as_dict()
    # Valid claims are in production as done, or as review when the model's denial risk is high.
    assert (report.states["done"] + report.states["review"], report.states["failed"]) == (6, 2)
