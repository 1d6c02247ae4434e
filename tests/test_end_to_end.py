"""The whole pipeline on real services: seeded claims, a real `celery worker` subprocess, dispatch, wait,
then the ledger, the seeded defects, the production rows and the encrypted payloads are checked."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import psycopg
import pytest
import redis
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from claims_tasks.broker import priority_lists
from claims_tasks.config import Settings
from claims_tasks.crypto import make_cipher
from claims_tasks.metrics import RedisCollector
from claims_tasks.sharding import shard_queues
from claims_tasks.tasks import run_dispatch
from db.ledger import reconcile
from db.seed import seed_claims
from tests.factories import insert_claims, make_valid_claims
from tests.workers import WorkerProcess, wait_for_batch, wait_for_ledger

pytestmark = pytest.mark.slow

# Aggregate each claim's lines/diagnoses into one digest, identically on both sides.
_LINES_DIGEST = """
SELECT claim_id, md5(string_agg(concat_ws('|', line_number, procedure_code, modifiers::text,
       units::text, line_charge::text, service_date, place_of_service, diagnosis_pointers::text),
       ';' ORDER BY line_number))
FROM {table} WHERE claim_id = ANY(%s) GROUP BY claim_id
"""
_DX_DIGEST = """
SELECT claim_id, string_agg(sequence || ':' || icd10_code, ';' ORDER BY sequence)
FROM {table} WHERE claim_id = ANY(%s) GROUP BY claim_id
"""


def test_seeded_claims_flow_to_production_and_failed_claims(
    clean: Settings, worker: WorkerProcess, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    seeded = seed_claims(clean.staging_dsn, 5_000, facilities=20, invalid_share=0.1, seed=7)
    result = run_dispatch()
    assert result is not None and result.claims == 5_000

    total, done, failed, review = wait_for_batch(clean.staging_dsn, result.batch_id)
    assert (total, done + failed + review) == (5_000, 5_000)
    # Automated repairs of some failed claims may still be running after the batch finished.
    ledger = wait_for_ledger(clean.staging_dsn, clean.production_dsn, result.batch_id)
    repaired = dict(production.execute("SELECT claim_id, 1 FROM failed_claims WHERE status = 'repaired'").fetchall())
    assert ledger.states["done"] == 4_500 + len(repaired)
    assert ledger.states["failed"] == 500 - len(repaired)
    batch = staging.execute("SELECT done, failed FROM staging.batches WHERE batch_id = %s", (result.batch_id,))
    assert batch.fetchone() == (ledger.states["done"], ledger.states["failed"])

    # The fleet's metrics, as /metrics will serve them, agree with what the pipeline decided.
    scraped = _scrape(clean)
    assert scraped[("claims_processed_total", "done")] == 4_500
    assert scraped[("claims_processed_total", "failed")] == 500
    assert scraped[("chunks_processed_total", None)] == result.chunks

    # Every deliberate defect failed, with the rule the seeder says must fire; nothing else failed.
    defects = dict(staging.execute("SELECT claim_id, expected_rule FROM staging.seed_defects").fetchall())
    assert len(defects) == seeded.invalid == 500
    failed_rows = dict(production.execute("SELECT claim_id, rule_codes FROM failed_claims").fetchall())
    assert set(failed_rows) == set(defects)
    wrong = {cid: (rule, failed_rows[cid]) for cid, rule in defects.items() if rule not in failed_rows[cid]}
    assert wrong == {}
    # Only mechanical defects were repaired, and the repaired claims are right in production.
    kinds = dict(staging.execute("SELECT claim_id, defect FROM staging.seed_defects").fetchall())
    assert {kinds[cid] for cid in repaired} <= {"total_mismatch", "from_after_to"}
    assert any(kinds[cid] == "total_mismatch" for cid in repaired)
    bad_totals = production.execute(
        "SELECT count(*) FROM claims c WHERE claim_id = ANY(%s) AND total_charge <>"
        " (SELECT sum(line_charge) FROM claim_lines l WHERE l.claim_id = c.claim_id)"
        " OR claim_id = ANY(%s) AND service_from > service_to",
        (list(repaired), list(repaired)),
    ).fetchone()
    assert bad_totals == (0,)

    # Valid claims are in production with all their lines and diagnoses, byte for byte.
    done_ids = [r[0] for r in staging.execute("SELECT claim_id FROM staging.claims WHERE status = 'done'")]
    assert len(done_ids) == 4_500 + len(repaired)
    for digest in (_LINES_DIGEST, _DX_DIGEST):
        want = dict(staging.execute(digest.format(table="staging." + _table(digest)), (done_ids,)).fetchall())
        got = dict(production.execute(digest.format(table=_table(digest)), (done_ids,)).fetchall())
        assert got == want

    # Encrypted payloads decrypt to the staging claim as it was.
    cipher = make_cipher(clean.encryption_keys())
    rows = production.execute(
        "SELECT claim_id, encrypted_payload FROM failed_claims ORDER BY claim_id LIMIT 50"
    ).fetchall()
    for claim_id, blob in rows:
        doc = json.loads(cipher.decrypt(bytes(blob)))
        src = staging.execute(
            "SELECT total_charge::text, billing_npi, patient_last_name,"
            " (SELECT count(*) FROM staging.claim_lines l WHERE l.claim_id = c.claim_id)"
            " FROM staging.claims c WHERE claim_id = %s",
            (claim_id,),
        ).fetchone()
        assert src is not None
        assert doc["claim_id"] == claim_id
        assert (doc["total_charge"], doc["billing_npi"], doc["patient_last_name"], len(doc["lines"])) == src
        assert b"patient" not in bytes(blob), "payload must not be stored in clear"


def _scrape(settings: Settings) -> dict[tuple[str, str | None], float]:
    """Sum each sample of the Redis-backed collector by (name, outcome label)."""
    registry = CollectorRegistry()
    registry.register(RedisCollector(redis.Redis.from_url(settings.broker_url)))
    sums: dict[tuple[str, str | None], float] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            key = (sample.name, sample.labels.get("outcome"))
            sums[key] = sums.get(key, 0.0) + sample.value
    return sums


def _table(digest: str) -> str:
    return "claim_lines" if digest is _LINES_DIGEST else "claim_diagnoses"


def test_duplicated_messages_write_nothing_twice(
    clean: Settings, staging: psycopg.Connection, production: psycopg.Connection, tmp_path: Path
) -> None:
    insert_claims(staging, make_valid_claims(staging, 3_000, facilities=10))
    result = run_dispatch()
    assert result is not None
    # Every chunk message delivered twice, as Redis does when a visibility timeout expires.
    client = redis.Redis.from_url(clean.broker_url)
    copies = 0
    for key in [k for q in shard_queues(clean.shards) for k in priority_lists(q)]:
        for raw in client.lrange(key, 0, -1):
            envelope = json.loads(raw)
            args = json.loads(base64.b64decode(envelope["body"]))
            assert len(args[0][2]) <= clean.chunk_size
            client.lpush(key, raw)
            copies += 1
    assert copies == result.chunks

    proc = WorkerProcess(tmp_path / "worker.log")
    try:
        proc.wait_ready()
        wait_for_batch(clean.staging_dsn, result.batch_id)
        # Let the duplicate deliveries drain too before counting.
        _wait_queues_empty(client, clean)
    finally:
        proc.stop()

    assert production.execute("SELECT count(*), count(DISTINCT claim_id) FROM claims").fetchone() == (
        3_000,
        3_000,
    )
    assert production.execute("SELECT count(*) FROM claim_lines").fetchone() == (6_000,)
    assert staging.execute("SELECT done, failed FROM staging.batches").fetchone() == (3_000, 0)
    assert reconcile(clean.staging_dsn, clean.production_dsn).ok


def _wait_queues_empty(client: redis.Redis, settings: Settings, timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while any(client.llen(k) for q in shard_queues(settings.shards) for k in priority_lists(q)):
        assert time.monotonic() < deadline, "queues did not drain"
        time.sleep(0.2)
    # Unacked messages sit in kombu's 'unacked' hash until the worker acknowledges them.
    while client.hlen("unacked"):
        assert time.monotonic() < deadline, "messages still unacknowledged"
        time.sleep(0.2)
