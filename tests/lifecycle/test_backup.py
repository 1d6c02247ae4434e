"""Backup and restore (`claims-tasks backup` / `restore`, pg_dump/pg_restore): a restored pair of databases
holds the same rows, reconciles, and is still partitioned with its claim-id guard working."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from claims_tasks.backup import backup, restore
from claims_tasks.config import Settings
from claims_tasks.errors import ClaimsError
from db import engines, partitions
from db.ledger import reconcile
from tests.lifecycle.conftest import Processed


@pytest.fixture
def targets(settings: Settings) -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:8]
    pair = (
        engines.with_database(settings.staging_dsn, f"ct_{tag}_restored_staging"),
        engines.with_database(settings.staging_dsn, f"ct_{tag}_restored_production"),
    )
    yield pair
    for dsn in pair:
        engines.drop_database(dsn)


def test_backup_then_restore_gives_the_same_ledger(
    clean: Settings, processed: Processed, targets: tuple[str, str], tmp_path: Path
) -> None:
    original = reconcile(clean.staging_dsn, clean.production_dsn).as_dict()
    manifest = backup(clean.staging_dsn, clean.production_dsn, tmp_path / "b")
    assert manifest["databases"]["production"]["counts"]["claims"] == processed.done
    assert manifest["databases"]["production"]["revisions"]

    checked = restore(tmp_path / "b", *targets)

    assert checked == {role: manifest["databases"][role]["counts"] for role in ("staging", "production")}
    restored = reconcile(*targets).as_dict()
    assert {k: v for k, v in restored.items() if k != "batch"} == {k: v for k, v in original.items() if k != "batch"}
    with psycopg.connect(targets[1]) as conn:
        assert partitions.is_partitioned(conn)
        names = {p.name for p in partitions.list_partitions(conn)}
        assert "claims_default" in names and len(names) >= 4
        [(claim_id,)] = conn.execute("SELECT claim_id FROM claims LIMIT 1").fetchall()
        # The registry's trigger came back with the schema: one claim_id, one row, whatever the year.
        with pytest.raises(psycopg.errors.UniqueViolation, match="pk_claim_ids"):
            conn.execute(
                "INSERT INTO claims SELECT (jsonb_populate_record(NULL::claims, to_jsonb(c)"
                ' || \'{"service_from": "2019-01-01", "service_to": "2019-01-01"}\')).*'
                " FROM claims c WHERE claim_id = %s",
                (claim_id,),
            )
        conn.rollback()
        views = conn.execute("SELECT count(*) FROM analytics_daily").fetchone()
        assert views and views[0] > 0

    with pytest.raises(ClaimsError, match="already has tables"):
        restore(tmp_path / "b", *targets)


def test_restore_refuses_a_damaged_backup(clean: Settings, targets: tuple[str, str], tmp_path: Path) -> None:
    backup(clean.staging_dsn, clean.production_dsn, tmp_path / "b")
    dump = tmp_path / "b" / "production.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    with pytest.raises(ClaimsError, match="does not match its checksum"):
        restore(tmp_path / "b", *targets)
    with pytest.raises(ClaimsError, match="not a `claims-tasks backup` directory"):
        restore(tmp_path, *targets)


def test_backup_and_restore_commands(clean: Settings, targets: tuple[str, str], tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "claims_tasks.cli"]
    out = subprocess.run([*cli, "backup", "--out", str(tmp_path / "b")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == str(tmp_path / "b" / "manifest.json")
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["format"] == 1

    again = subprocess.run([*cli, "backup", "--out", str(tmp_path / "b")], capture_output=True, text=True, timeout=60)
    assert again.returncode == 2
    assert again.stderr.strip() == f"claims-tasks: backup: {tmp_path / 'b'} is not empty; give a new directory"

    back = subprocess.run(
        [*cli, "restore", str(tmp_path / "b"), "--staging-dsn", targets[0], "--production-dsn", targets[1]],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert back.returncode == 0, back.stderr
    assert back.stdout.startswith("staging: restored, staging.claims 0")
