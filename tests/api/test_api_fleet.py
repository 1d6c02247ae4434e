"""The API over a batch a real worker processes: /status and /batch_status before and after, /batches,
/metrics and /health, and the failed claims it leaves (filters, paging, PHI by role, the audit trail).

One batch for the module (seeding and a worker start are the slow parts): `dispatched` queues it with no
worker running; `processed` starts a worker and waits until the fleet is idle. Tests run in file order.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from claims_tasks import config
from claims_tasks.broker import queue_depths
from claims_tasks.dispatch import DispatchResult
from claims_tasks.sharding import shard_for, shard_queues
from claims_tasks.tasks import run_dispatch
from db.seed import seed_claims
from tests.api.conftest import key
from tests.api.servers import truncate_everything, wait_until_idle
from tests.workers import WorkerProcess, wait_for_batch

pytestmark = pytest.mark.slow

CLAIMS = 3_000
T = TypeVar("T")


def eventually(probe: Callable[[], T], ok: Callable[[T], bool], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


@pytest.fixture(scope="module")
def settings_m(test_env: dict[str, str]) -> config.Settings:
    config.get_settings.cache_clear()
    return config.get_settings()


@pytest.fixture(scope="module")
def dispatched(settings_m: config.Settings) -> DispatchResult:
    truncate_everything(settings_m)
    seed_claims(settings_m.staging_dsn, CLAIMS, facilities=12, invalid_share=0.15, seed=23)
    result = run_dispatch()
    assert result is not None and result.claims == CLAIMS
    return result


@pytest.fixture(scope="module")
def processed(
    dispatched: DispatchResult, settings_m: config.Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(tmp_path_factory.mktemp("fleet") / "worker.log", name="fleet")
    try:
        worker.wait_ready()
        wait_until_idle(settings_m, dispatched.batch_id)
        yield worker
    finally:
        worker.stop()


def _metrics(client: TestClient, api_keys: dict[str, str]) -> dict[str, list[Any]]:
    response = client.get("/metrics", headers=key(api_keys, "auditor"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(response.text)}


def test_status_before_any_worker(
    client: TestClient, api_keys: dict[str, str], dispatched: DispatchResult, settings_m: config.Settings
) -> None:
    status = client.get("/status", headers=key(api_keys, "auditor"))
    assert status.status_code == 200
    doc = status.json()
    depths = {q["name"]: q["depth"] for q in doc["queues"]}
    # Every chunk is waiting, spread over the shard queues exactly as Redis holds them (all priority lists).
    assert sum(depths[q] for q in shard_queues(settings_m.shards)) == dispatched.chunks
    assert depths == queue_depths(settings_m.broker_url, list(depths))
    assert doc["in_flight"] == {"batches": 1, "claims": CLAIMS, "chunks_unacked": 0}
    assert doc["last_dispatch"]["batch_id"] == dispatched.batch_id
    assert doc["workers"] == []

    batch = client.get(f"/batch_status/{dispatched.batch_id}", headers=key(api_keys, "auditor")).json()
    assert batch["status"] == "running"
    assert (batch["total"], batch["processed"], batch["percent"]) == (CLAIMS, 0, 0.0)
    assert batch["counts"] == {"queued": CLAIMS, "done": 0, "failed": 0, "review": 0, "resolved": 0}
    assert batch["eta_seconds"] is None and batch["finished_at"] is None

    samples = _metrics(client, api_keys)["queue_depth"]
    assert {s.labels["queue"]: s.value for s in samples} == {k: float(v) for k, v in depths.items()}


def test_batch_status_after_the_worker(
    client: TestClient,
    api_keys: dict[str, str],
    dispatched: DispatchResult,
    processed: WorkerProcess,
    settings_m: config.Settings,
) -> None:
    batch = client.get(f"/batch_status/{dispatched.batch_id}", headers=key(api_keys, "user")).json()
    with psycopg.connect(settings_m.staging_dsn) as conn:
        row = conn.execute(
            "SELECT total, done, failed, review FROM staging.batches WHERE batch_id = %s", (dispatched.batch_id,)
        ).fetchone()
    assert row is not None
    assert batch["status"] == "finished" and batch["percent"] == 100.0 and batch["eta_seconds"] == 0.0
    assert (batch["total"], batch["counts"]["done"], batch["counts"]["failed"], batch["counts"]["review"]) == row
    assert batch["counts"]["queued"] == 0 and batch["processed"] == CLAIMS
    assert batch["claims_per_second"] > 0 and batch["finished_at"] is not None
    assert batch["counts"]["failed"] > 0  # the seeded defects


def test_status_and_health_see_the_worker(
    client: TestClient, api_keys: dict[str, str], processed: WorkerProcess, settings_m: config.Settings
) -> None:
    doc = eventually(
        lambda: client.get("/status", headers=key(api_keys, "auditor")).json(), lambda d: bool(d["workers"]), timeout=15
    )
    names = [w["name"] for w in doc["workers"]]
    assert any(n.startswith("fleet-") for n in names), names
    worker = next(w for w in doc["workers"] if w["name"].startswith("fleet-"))
    assert set(shard_queues(settings_m.shards)) <= set(worker["queues"])
    assert doc["in_flight"] == {"batches": 0, "claims": 0, "chunks_unacked": 0}
    assert all(q["depth"] == 0 for q in doc["queues"])

    health = client.get("/health").json()
    assert health["status"] == "ok" and health["workers"] >= 1


def test_metrics_agree_with_the_ledger(
    client: TestClient,
    api_keys: dict[str, str],
    dispatched: DispatchResult,
    processed: WorkerProcess,
    settings_m: config.Settings,
) -> None:
    with psycopg.connect(settings_m.staging_dsn) as conn:
        total, done, failed = conn.execute(
            "SELECT total, done, failed FROM staging.batches WHERE batch_id = %s", (dispatched.batch_id,)
        ).fetchone()  # type: ignore[misc]
        facility_of = dict(conn.execute("SELECT claim_id, facility_id FROM staging.claims").fetchall())
    with psycopg.connect(settings_m.production_dsn) as conn:
        # A claim's first failure (its chunk's outcome), whatever repair did with it afterwards.
        failed_rows = conn.execute(
            "SELECT DISTINCT ON (claim_id) claim_id, failure_category FROM failed_claims ORDER BY claim_id, id"
        ).fetchall()
        all_failed = conn.execute("SELECT count(*) FROM failed_claims").fetchone()[0]  # type: ignore[index]
    # A request of this test's own to time: the module's other tests may run in another test process.
    assert client.get("/status", headers=key(api_keys, "auditor")).status_code == 200
    m = _metrics(client, api_keys)

    processed_by = Counter[str]()
    for s in m["claims_processed"]:
        if s.name.endswith("_total"):
            processed_by[s.labels["outcome"]] += s.value
    # Chunk outcomes: every claim once; repairs later move some failed ones to done in the batch counters.
    assert processed_by["failed"] == len(failed_rows) and processed_by["done"] == total - len(failed_rows)
    assert done + failed == total and done >= processed_by["done"]

    # Failed claims per shard and category, as the workers counted them, match failed_claims.
    expected = Counter((str(shard_for(facility_of[cid], settings_m.shards)), cat) for cid, cat in failed_rows)
    counted = {
        (s.labels["shard"], s.labels["category"]): s.value for s in m["claims_failed"] if s.name.endswith("_total")
    }
    assert counted == {k: float(v) for k, v in expected.items()}

    count = sum(s.value for s in m["chunk_duration_seconds"] if s.name.endswith("_count"))
    assert count >= dispatched.chunks

    pools = {(s.labels["process"].split(":")[0], s.labels["pool"]) for s in m["db_pool_size"]}
    assert {("worker", "staging"), ("worker", "production"), ("api", "staging"), ("api", "production")} <= pools
    api_max = [s.value for s in m["db_pool_max"] if s.labels["process"].startswith("api:")]
    assert api_max == [float(settings_m.pool_max_size)] * 4  # sync and async, per database
    assert sum(s.value for s in m["db_pool_requests"] if s.labels["process"].startswith("worker:")) > 0

    assert sum(s.value for s in m["failed_claims"]) == all_failed
    latency = [
        s for s in m["api_request_duration_seconds"] if s.name.endswith("_count") and s.labels["route"] == "/status"
    ]
    assert latency and latency[0].value >= 1


def test_batches_are_paged_newest_first(
    client: TestClient,
    api_keys: dict[str, str],
    dispatched: DispatchResult,
    processed: WorkerProcess,
    settings_m: config.Settings,
) -> None:
    seed_claims(settings_m.staging_dsn, 40, facilities=3, invalid_share=0.0, seed=5)
    second = run_dispatch()
    assert second is not None
    wait_for_batch(settings_m.staging_dsn, second.batch_id, timeout=60)

    first_page = client.get("/batches?page=1&page_size=1", headers=key(api_keys, "auditor")).json()
    second_page = client.get("/batches?page=2&page_size=1", headers=key(api_keys, "auditor")).json()
    beyond = client.get("/batches?page=3&page_size=1", headers=key(api_keys, "auditor")).json()
    assert first_page["total"] == second_page["total"] == 2
    assert [b["batch_id"] for b in first_page["items"] + second_page["items"]] == [second.batch_id, dispatched.batch_id]
    assert beyond["items"] == []
    finished = client.get("/batches?status=finished", headers=key(api_keys, "auditor")).json()
    assert finished["total"] == 2
    running = client.get("/batches?status=running", headers=key(api_keys, "auditor")).json()
    assert running["total"] == 0


def test_failed_claims_filter_and_page(
    client: TestClient, api_keys: dict[str, str], processed: WorkerProcess, settings_m: config.Settings
) -> None:
    with psycopg.connect(settings_m.production_dsn) as conn:
        rows = conn.execute("SELECT id, failure_category, facility_id, status FROM failed_claims").fetchall()
    assert rows
    auditor = key(api_keys, "auditor")

    everything = client.get("/failed_claims?page_size=500", headers=auditor).json()
    assert everything["total"] == len(rows)
    assert [f["id"] for f in everything["items"]] == sorted((r[0] for r in rows), reverse=True)[:500]
    assert all("patient_last_name" not in f for f in everything["items"])

    by_category = Counter(r[1] for r in rows)
    for category, n in by_category.items():
        page = client.get(f"/failed_claims?category={category}", headers=auditor).json()
        assert page["total"] == n
        assert {f["failure_category"] for f in page["items"]} == {category}
    facility = rows[0][2]
    page = client.get(f"/failed_claims?facility_id={facility}&page_size=500", headers=auditor).json()
    assert page["total"] == sum(1 for r in rows if r[2] == facility)
    status = rows[0][3]
    page = client.get(f"/failed_claims?status={status}", headers=auditor).json()
    assert page["total"] == sum(1 for r in rows if r[3] == status)

    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    assert client.get(f"/failed_claims?since={today}&until={today}", headers=auditor).json()["total"] == len(rows)
    assert client.get(f"/failed_claims?until={yesterday}", headers=auditor).json()["total"] == 0
    assert client.get(f"/failed_claims?since={today + timedelta(days=1)}", headers=auditor).json()["total"] == 0
    assert client.get("/failed_claims?until=9999-12-31", headers=auditor).json()["total"] == len(rows)
    assert client.get(f"/failed_claims?since={today}&until={yesterday}", headers=auditor).json()["total"] == 0
    for bad in ("until=0", "since=2024-02-30", "since=yesterday", "categroy=coding"):
        refused = client.get(f"/failed_claims?{bad}", headers=auditor)
        assert refused.status_code == 422 and refused.json()["message"], bad

    # Paging walks every row exactly once.
    seen: list[int] = []
    for page_no in range(1, len(rows) // 7 + 2):
        seen += [
            f["id"] for f in client.get(f"/failed_claims?page={page_no}&page_size=7", headers=auditor).json()["items"]
        ]
    assert sorted(seen) == sorted(r[0] for r in rows)


def test_failed_claim_detail_by_role_with_audit(
    client: TestClient, api_keys: dict[str, str], processed: WorkerProcess, settings_m: config.Settings
) -> None:
    with psycopg.connect(settings_m.production_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE phi_reads")
        fid, claim_id = conn.execute("SELECT id, claim_id FROM failed_claims ORDER BY id LIMIT 1").fetchone()  # type: ignore[misc]
    with psycopg.connect(settings_m.staging_dsn) as conn:
        first, last, dob = conn.execute(
            "SELECT patient_first_name, patient_last_name, date_of_birth FROM staging.claims WHERE claim_id = %s",
            (claim_id,),
        ).fetchone()  # type: ignore[misc]

    views = {
        role: client.get(f"/failed_claims/{fid}", headers=key(api_keys, role)) for role in ("admin", "user", "auditor")
    }
    for role in ("admin", "user"):
        doc = views[role].json()
        assert views[role].status_code == 200 and doc["phi"] == "disclosed"
        assert (doc["claim"]["patient_first_name"], doc["claim"]["patient_last_name"]) == (first, last)
        assert doc["claim"]["date_of_birth"] == (dob.isoformat() if dob else None)
        assert doc["failures"] and doc["rule_codes"]
    masked = views["auditor"].json()
    assert masked["phi"] == "masked"
    assert masked["claim"]["patient_last_name"] == ("***" if last is not None else None)
    assert masked["claim"]["date_of_birth"] == ("***" if dob is not None else None)
    assert last is None or last not in views["auditor"].text
    # What auditors audit stays visible: codes, charges, lines.
    admin_claim = views["admin"].json()["claim"]
    assert masked["claim"]["lines"] == admin_claim["lines"]
    assert masked["claim"]["total_charge"] == admin_claim["total_charge"]

    with psycopg.connect(settings_m.production_dsn) as conn:
        audit = conn.execute(
            "SELECT key_name, role, claim_id, failed_claim_id, disclosed, fields, correlation_id FROM phi_reads"
            " ORDER BY id"
        ).fetchall()
    assert [(a[0], a[1], a[2], a[3], a[4]) for a in audit] == [
        ("test-admin", "admin", claim_id, fid, True),
        ("test-user", "user", claim_id, fid, True),
        ("test-auditor", "auditor", claim_id, fid, False),
    ]
    assert last is None or "patient_last_name" in audit[0][5]
    assert audit[2][5] == []
    assert [a[6] for a in audit] == [views[r].headers["X-Correlation-ID"] for r in ("admin", "user", "auditor")]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/failed_claims/0", 422),
        ("/failed_claims/abc", 422),
        (f"/failed_claims/{2**63}", 422),
        ("/failed_claims/999999999", 404),
        ("/failed_claims?category=nope", 422),
        ("/failed_claims?facility_id=%00", 422),
        ("/failed_claims?page=-1", 422),
        ("/batch_status/bad%20id", 422),
        ("/batch_status/%00", 422),
        ("/batches?page_size=0", 422),
        ("/batches?status=lost", 422),
    ],
)
def test_malformed_input_is_a_4xx_with_a_message(
    client: TestClient, api_keys: dict[str, str], path: str, status: int
) -> None:
    response = client.get(path, headers=key(api_keys, "admin"))
    assert response.status_code == status, response.text
    assert response.json()["message"]
