"""Review actions through the API over claims a real worker failed: roles, audit rows with the key as actor,
the claim's outcome in the ledger, amendments keeping history, and refusals as 4xx with a message."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from claims_tasks import config
from claims_tasks.tasks import run_dispatch
from db.ledger import reconcile
from db.seed import seed_claims
from tests.api.conftest import key
from tests.api.servers import truncate_everything, wait_until_idle
from tests.workers import WorkerProcess, wait_for_batch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def settings_m(test_env: dict[str, str]) -> config.Settings:
    config.get_settings.cache_clear()
    return config.get_settings()


@pytest.fixture(scope="module")
def worker(settings_m: config.Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    truncate_everything(settings_m)
    seed_claims(settings_m.staging_dsn, 600, facilities=6, invalid_share=0.3, seed=31)
    result = run_dispatch()
    assert result is not None
    proc = WorkerProcess(tmp_path_factory.mktemp("review") / "worker.log", name="review")
    try:
        proc.wait_ready()
        wait_until_idle(settings_m, result.batch_id)
        yield proc
    finally:
        proc.stop()


def _open_failures(settings: config.Settings, category: str | None = None) -> list[tuple[int, str]]:
    with psycopg.connect(settings.production_dsn) as conn:
        return conn.execute(
            "SELECT id, claim_id FROM failed_claims WHERE status IN ('new', 'review')"
            " AND (%(c)s::text IS NULL OR failure_category = %(c)s) ORDER BY id",
            {"c": category},
        ).fetchall()


def _audit(settings: config.Settings, claim_id: str) -> list[tuple[str, str]]:
    with psycopg.connect(settings.production_dsn) as conn:
        return conn.execute(
            "SELECT actor, action FROM review_actions WHERE claim_id = %s ORDER BY id", (claim_id,)
        ).fetchall()


def test_auditors_may_not_act(
    client: TestClient, api_keys: dict[str, str], worker: WorkerProcess, settings_m: config.Settings
) -> None:
    fid, claim_id = _open_failures(settings_m)[0]
    for path, body in (
        (f"/failed_claims/{fid}/assign", {"assignee": "ann"}),
        (f"/failed_claims/{fid}/resolve", {"resolution": "void"}),
        (f"/failed_claims/{fid}/resubmit", {}),
        (f"/claims/{claim_id}/amend", {"frequency": "8"}),
    ):
        refused = client.post(path, json=body, headers=key(api_keys, "auditor"))
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["category"] == "authorization"
    assert _audit(settings_m, claim_id) == []


def test_assign_then_void_is_audited_with_the_key(
    client: TestClient, api_keys: dict[str, str], worker: WorkerProcess, settings_m: config.Settings
) -> None:
    fid, claim_id = _open_failures(settings_m)[0]
    user = key(api_keys, "user")
    me = client.get("/whoami", headers=user).json()

    assigned = client.post(
        f"/failed_claims/{fid}/assign", json={"assignee": "ann", "notes": "look at NPI"}, headers=user
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json() == {
        "failed_claim_id": fid,
        "claim_id": claim_id,
        "action": "assign",
        "status": "review",
        "assigned_to": "ann",
        "resolution": None,
        "batch_id": None,
    }

    voided = client.post(f"/failed_claims/{fid}/resolve", json={"resolution": "void"}, headers=user)
    assert voided.status_code == 200, voided.text
    assert (voided.json()["status"], voided.json()["resolution"]) == ("voided", "voided")

    actor = f"apikey:{me['id']}:test-user"
    assert _audit(settings_m, claim_id) == [(actor, "assign"), (actor, "void")]
    with psycopg.connect(settings_m.staging_dsn) as conn:
        status = conn.execute("SELECT status FROM staging.claims WHERE claim_id = %s", (claim_id,)).fetchone()
    assert status == ("resolved",)

    again = client.post(f"/failed_claims/{fid}/resolve", json={"resolution": "accept"}, headers=user)
    assert again.status_code == 409 and "is voided" in again.json()["message"]


def test_accept_sends_the_claim_to_production(
    client: TestClient, api_keys: dict[str, str], worker: WorkerProcess, settings_m: config.Settings
) -> None:
    # An accept can be refused when production cannot store the claim as it stands (a missing required
    # field): that is a 422 with the reason. Coding failures are storable.
    accepted = refused = 0
    for fid, claim_id in _open_failures(settings_m, "coding")[:5]:
        response = client.post(
            f"/failed_claims/{fid}/resolve",
            json={"resolution": "accept", "notes": "override"},
            headers=key(api_keys, "admin"),
        )
        if response.status_code == 422:
            assert response.json()["category"] == "refused" and claim_id in response.json()["message"]
            refused += 1
            continue
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["resolution"]) == ("resolved", "accepted")
        with psycopg.connect(settings_m.production_dsn) as conn:
            assert conn.execute("SELECT 1 FROM claims WHERE claim_id = %s", (claim_id,)).fetchone() == (1,)
        accepted += 1
    assert accepted >= 1, refused
    assert reconcile(settings_m.staging_dsn, settings_m.production_dsn).consistent


def test_resubmit_with_a_correction_runs_the_claim_again(
    client: TestClient, api_keys: dict[str, str], worker: WorkerProcess, settings_m: config.Settings
) -> None:
    fid, claim_id = _open_failures(settings_m)[-1]
    response = client.post(
        f"/failed_claims/{fid}/resubmit", json={"notes": "retry as is"}, headers=key(api_keys, "user")
    )
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["status"] == "resolved" and doc["resolution"] == "resubmitted" and doc["batch_id"]
    assert [a for _, a in _audit(settings_m, claim_id)][-1] == "resubmit"
    total, done, failed, review = wait_for_batch(settings_m.staging_dsn, doc["batch_id"], timeout=60)
    assert total == 1 and done + failed + review == 1
    batch = client.get(f"/batch_status/{doc['batch_id']}", headers=key(api_keys, "user")).json()
    assert batch["status"] == "finished" and batch["total"] == 1

    bad = client.post(
        f"/failed_claims/{_open_failures(settings_m)[0][0]}/resubmit",
        json={"changes": {"date_of_birth": "1990-02-30"}},
        headers=key(api_keys, "user"),
    )
    assert bad.status_code == 422 and "date_of_birth" in bad.json()["message"]


def test_amend_keeps_history(
    client: TestClient, api_keys: dict[str, str], worker: WorkerProcess, settings_m: config.Settings
) -> None:
    with psycopg.connect(settings_m.production_dsn) as conn:
        claim_id, first = conn.execute(
            "SELECT claim_id, patient_first_name FROM claims WHERE status = 'active' ORDER BY claim_id LIMIT 1"
        ).fetchone()  # type: ignore[misc]
    admin = key(api_keys, "admin")
    replaced = client.post(
        f"/claims/{claim_id}/amend",
        json={"frequency": "7", "changes": {"patient_first_name": first + "X"}},
        headers=admin,
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json() == {"claim_id": claim_id, "frequency": "7", "version": 2}
    voided = client.post(f"/claims/{claim_id}/amend", json={"frequency": "8", "notes": "duplicate"}, headers=admin)
    assert voided.status_code == 200 and voided.json()["version"] == 3
    with psycopg.connect(settings_m.production_dsn) as conn:
        history = conn.execute(
            "SELECT version, reason FROM claim_history WHERE claim_id = %s ORDER BY version", (claim_id,)
        ).fetchall()
        now = conn.execute("SELECT status, version FROM claims WHERE claim_id = %s", (claim_id,)).fetchone()
    assert history == [(1, "replaced"), (2, "voided")] and now == ("voided", 3)

    unchanged = client.post(f"/claims/{claim_id}/amend", json={"frequency": "7"}, headers=admin)
    assert unchanged.status_code == 422 and unchanged.json()["category"] == "refused"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/failed_claims/999999999/assign", {"assignee": "ann"}, 404),
        ("/claims/NOPE-1/amend", {"frequency": "8"}, 404),
        ("/failed_claims/1/assign", {}, 422),
        ("/failed_claims/1/assign", {"assignee": ""}, 422),
        ("/failed_claims/1/assign", {"assignee": "ann", "role": "admin"}, 422),
        ("/failed_claims/1/resolve", {"resolution": "maybe"}, 422),
        ("/failed_claims/1/resubmit", {"changes": {"claim_id": "X"}}, 422),
        ("/failed_claims/1/resubmit", {"line_changes": {"x": {"units": "1"}}}, 422),
        ("/failed_claims/1/resubmit", {"notes": "a\u0000b"}, 422),
        ("/claims/C1/amend", {"frequency": "9"}, 422),
        ("/failed_claims/abc/assign", {"assignee": "ann"}, 422),
    ],
)
def test_malformed_review_requests_are_4xx(
    client: TestClient, api_keys: dict[str, str], path: str, body: dict, status: int
) -> None:
    response = client.post(path, json=body, headers=key(api_keys, "admin"))
    assert response.status_code == status, response.text
    assert response.json()["message"]
    not_json = client.post(
        path, content=b"{not json", headers={**key(api_keys, "admin"), "Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
