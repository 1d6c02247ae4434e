"""Facilities, payers and financial classes in production, on the real databases: `init` copied staging's
across; a sync upserts changes and deactivates rows gone, and a second one changes nothing; a worker
process's read-through cache answers a chunk's ids from memory, asks production once per table for the
rest, remembers unknown ids, expires after its TTL and empties on a version bump; and a facility
deactivated in production alone fails its claims FACILITY_UNKNOWN through a real worker, with the
lookups in the fleet's /metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import psycopg
import pytest
import redis
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from claims_tasks import monitors, pipeline, resources
from claims_tasks.config import Settings
from claims_tasks.metrics import MetricsBatch, RedisCollector
from claims_tasks.reference_cache import ReferenceCache, chunk_ids, postgres_fetch
from claims_tasks.resources import WorkerResources, build_resources
from claims_tasks.tasks import run_dispatch
from db.edit_reference import bump_version, reference_version
from db.production_reference import TABLES, staging_rows, sync_production_reference
from tests.factories import insert_claims, make_valid_claims
from tests.test_pipeline import _dispatch
from tests.workers import WorkerProcess, wait_for_batch


@pytest.fixture
def res(clean: Settings) -> Iterator[WorkerResources]:
    res = build_resources(clean)
    yield res
    res.close()


def _production_rows(production: psycopg.Connection, table: str) -> list[tuple]:
    cols = {"facilities": "facility_id, name, npi, state, active", "payers": "payer_id, name, payer_type, active",
            "financial_classes": "code, description, active"}[table]  # fmt: skip
    return production.execute(f"SELECT {cols} FROM {table} ORDER BY 1").fetchall()  # nosec B608 # our names


def test_init_copied_the_reference_tables_to_production(
    staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    for table in TABLES:
        assert _production_rows(production, table) == staging_rows(staging, table) != []


def test_a_sync_upserts_changes_deactivates_rows_gone_and_twice_changes_nothing(settings: Settings) -> None:
    with psycopg.connect(settings.staging_dsn) as conn, psycopg.connect(settings.production_dsn) as prod:
        prod.autocommit = True
        assert sync_production_reference(conn, settings.production_dsn) == dict.fromkeys(TABLES, 0)
        before = reference_version(conn)
        try:
            conn.execute("INSERT INTO staging.payers VALUES ('ZZNEW', 'A new payer', 'commercial', true)")
            conn.execute("UPDATE staging.financial_classes SET description = 'renamed' WHERE code = 'MC'")
            conn.execute("DELETE FROM staging.facilities WHERE facility_id = 'F0050'")
            edited = reference_version(conn)
            assert edited == before + 3  # each edit bumps the version itself (migration s0008)
            changed = sync_production_reference(conn, settings.production_dsn)  # sees this transaction's edits
            assert changed == {"facilities": 1, "payers": 1, "financial_classes": 1}
            assert reference_version(conn) == edited + 1  # the workers' caches are emptied
            assert prod.execute("SELECT active FROM payers WHERE payer_id = 'ZZNEW'").fetchone() == (True,)
            assert prod.execute("SELECT description FROM financial_classes WHERE code = 'MC'").fetchone() == (
                "renamed",
            )
            # Gone from staging: kept in production (claims name it) but no longer active.
            assert prod.execute("SELECT active FROM facilities WHERE facility_id = 'F0050'").fetchone() == (False,)
            assert sync_production_reference(conn, settings.production_dsn) == dict.fromkeys(TABLES, 0)
        finally:
            conn.rollback()
            sync_production_reference(conn, settings.production_dsn)
            conn.commit()
        prod.execute("DELETE FROM payers WHERE payer_id = 'ZZNEW'")
        for table in ("facilities", "financial_classes"):
            assert _production_rows(prod, table) == staging_rows(conn, table)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_reads_through_once_per_table_remembers_unknown_ids_and_expires(
    res: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    queries: list[tuple[str, list[str]]] = []
    real = postgres_fetch(res.production)

    def fetch(table: str, ids: Sequence[str]) -> tuple[dict[str, bool], bool]:  # the real query, recorded
        queries.append((table, list(ids)))
        return real(table, ids)

    clock = _Clock()
    cache = ReferenceCache(fetch, ttl=60.0, clock=clock)
    cache.refresh(1)
    assert cache.known("facilities", ["F0001", "F0002", "NOPE", None]) == {"F0001", "F0002"}
    assert queries == [("facilities", ["F0001", "F0002", "NOPE"])] and cache.loaded("facilities")
    assert cache.drain_counts() == {("facilities", "miss"): 3}

    # A second chunk: its known ids and the unknown one from memory, only the new id asked, in one query.
    assert cache.known("facilities", ["F0001", "NOPE", "F0003"]) == {"F0001", "F0003"}
    assert queries[1:] == [("facilities", ["F0003"])]
    assert cache.known("facilities", ["NOPE"] * 100) == frozenset() and len(queries) == 2  # negative, cached
    assert cache.drain_counts() == {("facilities", "hit"): 3, ("facilities", "miss"): 1}

    # A whole chunk's three tables: one query each for what memory does not hold.
    claims = make_valid_claims(staging, 40, facilities=4)
    known = cache.lookup(chunk_ids(claims))
    payer, fin = claims[0].payer_id, claims[0].financial_class
    assert queries[2:] == [("facilities", ["F0004"]), ("payers", [payer]), ("financial_classes", [fin])]
    assert known.active == {"facilities": {"F0001", "F0002", "F0003", "F0004"}, "payers": {payer},
                            "financial_classes": {fin}} and known.loaded == set(TABLES)  # fmt: skip

    production.execute("UPDATE facilities SET active = false WHERE facility_id = 'F0002'")
    try:
        assert "F0002" in cache.known("facilities", ["F0002"])  # within the TTL: as read
        clock.now += 61
        assert "F0002" not in cache.known("facilities", ["F0002"])  # expired: read again
        assert queries[-1] == ("facilities", ["F0002"])
        # A version bump empties memory: everything is a miss again.
        cache.drain_counts()
        assert cache.refresh(2) and not cache.refresh(2)
        cache.known("facilities", ["F0001", "NOPE"])
        assert cache.drain_counts() == {("facilities", "miss"): 2}
    finally:
        production.execute("UPDATE facilities SET active = true WHERE facility_id = 'F0002'")


def test_a_worker_empties_its_cache_when_the_reference_version_moves(
    res: WorkerResources, staging: psycopg.Connection
) -> None:
    ref = res.reference()
    assert res.references is not None and res.references.version == ref.version
    pipeline.rule_context(res, ref, {"facilities": ["F0001"]})
    pipeline.rule_context(res, ref, {"facilities": ["F0001"]})
    assert res.references.drain_counts() == {("facilities", "miss"): 1, ("facilities", "hit"): 1}
    bump_version(staging)
    time.sleep(resources.REFERENCE_CHECK_SECONDS + 0.2)
    ref = res.reference()
    assert res.references.version == ref.version
    pipeline.rule_context(res, ref, {"facilities": ["F0001"]})
    assert res.references.drain_counts() == {("facilities", "miss"): 1}


def test_chunks_ask_production_once_per_table_and_report_their_lookups(
    clean: Settings, res: WorkerResources, staging: psycopg.Connection
) -> None:
    insert_claims(staging, make_valid_claims(staging, 300, facilities=4, prefix="K"))
    chunks = _dispatch(clean)
    for batch_id, _shard, ids in chunks:
        pipeline.process_chunk(res, batch_id, ids)
    assert len(chunks) >= 2
    metrics = MetricsBatch()
    monitors.record(res, metrics)
    metrics.flush(res.metrics_redis)
    lookups = _scrape(clean)
    # The first chunk asked about its ids (4 facilities, 1 payer, 1 class); every later one found them in memory.
    misses = {t: n for (t, r), n in lookups.items() if r == "miss"}
    assert misses == {"facilities": 4, "payers": 1, "financial_classes": 1}
    assert lookups[("payers", "hit")] == len(chunks) - 1  # by shard, each facility is in one chunk only
    states = dict(staging.execute("SELECT status, count(*) FROM staging.claims GROUP BY 1").fetchall())
    assert states == {"done": 300}


def _scrape(settings: Settings) -> dict[tuple[str, str], float]:
    """reference_cache_lookups_total as the API's /metrics serves it (the Redis-backed collector)."""
    registry = CollectorRegistry()
    registry.register(RedisCollector(redis.Redis.from_url(settings.broker_url)))
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            if sample.name == "reference_cache_lookups_total":
                key = (sample.labels["table"], sample.labels["result"])
                out[key] = out.get(key, 0.0) + sample.value
    return out


def test_a_facility_deactivated_in_production_fails_its_claims_through_a_worker(
    clean: Settings, worker: WorkerProcess, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    # Production alone says so: staging still lists F0003 as active, so the rules read production.
    production.execute("UPDATE facilities SET active = false WHERE facility_id = 'F0003'")
    bump_version(staging)
    try:
        claims = make_valid_claims(staging, 40, facilities=4, prefix="D")
        insert_claims(staging, claims)
        result = run_dispatch()
        assert result is not None and result.claims == 40
        _total, done, failed, _review = wait_for_batch(clean.staging_dsn, result.batch_id, timeout=120)
        closed = {c.claim_id for c in claims if c.facility_id == "F0003"}
        assert (done, failed) == (30, 10) and len(closed) == 10
        rows = dict(production.execute("SELECT claim_id, rule_codes FROM failed_claims").fetchall())
        assert set(rows) == closed and all(codes == ["FACILITY_UNKNOWN"] for codes in rows.values())
        assert _scrape(clean).get(("facilities", "miss"), 0) >= 4
    finally:
        production.execute("UPDATE facilities SET active = true WHERE facility_id = 'F0003'")
        bump_version(staging)
