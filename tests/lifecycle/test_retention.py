"""Retention (`claims-tasks retention`): dry run changes nothing; a run purges closed failures' PHI and retires
final staging claims past their days, archives them encrypted first, audits itself — and reconcile still
finds every claim in exactly one place."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import sys
from pathlib import Path

import psycopg

from claims_tasks import failures
from claims_tasks import retention as lifecycle
from claims_tasks.config import Settings
from claims_tasks.keys import rotate_payloads
from claims_tasks.records import claim_from_payload
from db.ledger import reconcile
from tests.lifecycle.conftest import Processed

OLD = "now() - interval '400 days'"
POLICY = lifecycle.Policy(failed_phi_days=365, staging_days=90, change_log_days=30)


def _age(staging: psycopg.Connection, production: psycopg.Connection, voided: list[str]) -> None:
    """Everything processed long ago; `voided` closed long ago."""
    staging.execute(f"UPDATE staging.claims SET updated_at = {OLD}")
    production.execute(f"UPDATE failed_claims SET updated_at = {OLD}, resolved_at = {OLD} WHERE claim_id = ANY(%s)",
                       (voided,))  # fmt: skip
    production.execute(f"UPDATE change_log SET changed_at = {OLD}")


def _ledger(settings: Settings) -> dict:
    doc = reconcile(settings.staging_dsn, settings.production_dsn).as_dict()
    return {k: doc[k] for k in ("total", "states", "missing", "duplicates", "unexpected", "line_mismatches", "ok")}


def _close_some(processed: Processed, production: psycopg.Connection, n: int) -> list[str]:
    open_ids = [r[0] for r in production.execute("SELECT claim_id FROM failed_claims ORDER BY claim_id LIMIT %s", (n,))]
    for claim_id in open_ids:
        failures.void(processed.res, claim_id, actor="test")
    return open_ids


def test_dry_run_counts_and_changes_nothing(
    clean: Settings, staging: psycopg.Connection, production: psycopg.Connection, processed: Processed
) -> None:
    voided = _close_some(processed, production, 3)
    _age(staging, production, voided)
    before = _ledger(clean)

    report = lifecycle.run(clean.staging_dsn, clean.production_dsn, POLICY, execute=False, actor="tester")

    assert report.counts["failed_claims_phi_purged"] == 3
    assert report.counts["staging_claims_retired"] == processed.done + 3
    assert report.counts["change_log_deleted"] > 0
    assert _ledger(clean) == before
    assert production.execute("SELECT count(*) FROM failed_claims WHERE phi_purged_at IS NOT NULL").fetchone() == (0,)
    audit = production.execute("SELECT actor, dry_run, counts FROM retention_runs WHERE id = %s", (report.run_id,))
    assert audit.fetchone() == ("tester", True, report.counts)


def test_run_purges_retires_archives_and_keeps_the_ledger(
    clean: Settings, staging: psycopg.Connection, production: psycopg.Connection, processed: Processed,
    tmp_path: Path,
) -> None:  # fmt: skip
    voided = _close_some(processed, production, 3)
    _age(staging, production, voided)
    before = _ledger(clean)
    # Consistent (repairs of the `retrying` failures would run on claims.retry; no worker here).
    assert [before[k] for k in ("missing", "duplicates", "unexpected", "line_mismatches")] == [0, 0, 0, 0]
    open_before = production.execute(
        "SELECT id, encrypted_payload FROM failed_claims WHERE status IN ('new','retrying','review') ORDER BY id"
    ).fetchall()
    payloads = dict(production.execute("SELECT claim_id, encrypted_payload FROM failed_claims WHERE claim_id = ANY(%s)",
                                       (voided,)).fetchall())  # fmt: skip

    report = lifecycle.run(
        clean.staging_dsn, clean.production_dsn, POLICY, execute=True, actor="tester",
        archive_dir=tmp_path / "archive", cipher=processed.res.cipher,
    )  # fmt: skip

    assert report.counts["failed_claims_phi_purged"] == 3
    assert report.counts["staging_claims_retired"] == processed.done + 3
    # The ledger adds up exactly as before: retired claims are counted from their tombstones.
    assert _ledger(clean) == before
    left = dict(staging.execute("SELECT status, count(*) FROM staging.claims GROUP BY 1").fetchall())
    assert left == {"failed": processed.failed - 3}
    purged = production.execute(
        "SELECT claim_id, length(encrypted_payload), phi_purged_at IS NOT NULL FROM failed_claims"
        " WHERE phi_purged_at IS NOT NULL ORDER BY 1"
    ).fetchall()
    assert purged == [(cid, 0, True) for cid in sorted(voided)]
    # Open failures are still whole: their payload is what review works from.
    assert (
        production.execute(
            "SELECT id, encrypted_payload FROM failed_claims WHERE status IN ('new','retrying','review') ORDER BY id"
        ).fetchall()
        == open_before
    )

    archive = tmp_path / "archive"
    phi_file = archive / f"retention-{report.run_id}-failed-phi.jsonl"
    staging_file = archive / f"retention-{report.run_id}-staging.jsonl"
    assert stat.S_IMODE(phi_file.stat().st_mode) == 0o600
    archived = {d["claim_id"]: base64.b64decode(d["encrypted_payload"]) for d in map(json.loads, phi_file.open())}
    assert archived == {cid: bytes(p) for cid, p in payloads.items()}
    retired = [json.loads(line) for line in staging_file.open()]
    assert len(retired) == processed.done + 3
    claim = claim_from_payload(processed.res.cipher.decrypt(retired[0]["encrypted_claim"].encode()))
    assert claim.claim_id == retired[0]["claim_id"] and claim.lines

    # Key rotation still works over what is left (purged payloads are empty, and skipped).
    assert rotate_payloads(clean.production_dsn, processed.res.cipher) == processed.failed - 3

    again = lifecycle.run(clean.staging_dsn, clean.production_dsn, POLICY, execute=True, actor="tester")
    assert set(again.counts.values()) == {0}
    audit = production.execute("SELECT dry_run, counts, archive FROM retention_runs WHERE id = %s", (report.run_id,))
    assert audit.fetchone() == (False, report.counts, str(archive / f"retention-{report.run_id}-*.jsonl"))


def test_nothing_recent_is_touched(clean: Settings, production: psycopg.Connection, processed: Processed) -> None:
    _close_some(processed, production, 2)
    before = _ledger(clean)
    report = lifecycle.run(clean.staging_dsn, clean.production_dsn, POLICY, execute=True, actor="tester")
    assert report.counts == {"failed_claims_phi_purged": 0, "staging_claims_retired": 0, "dead_letters_deleted": 0,
                             "change_log_deleted": 0}  # fmt: skip
    assert _ledger(clean) == before


def test_retention_command(clean: Settings, staging: psycopg.Connection, production: psycopg.Connection,
                           processed: Processed) -> None:  # fmt: skip
    _age(staging, production, [])
    cli = [sys.executable, "-m", "claims_tasks.cli", "retention"]
    out = subprocess.run([*cli, "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["dry_run"] is True and doc["counts"]["staging_claims_retired"] == processed.done
    assert staging.execute("SELECT count(*) FROM staging.retired_claims").fetchone() == (0,)
    text = subprocess.run([*cli, "--staging-days", "1000"], capture_output=True, text=True, timeout=60)
    assert "dry run: nothing changed" in text.stdout
    assert "staging_claims_retired" in text.stdout and " 0\n" in text.stdout
