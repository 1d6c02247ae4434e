"""The `claims-tasks` command as an operator runs it: a real subprocess, real databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from claims_tasks.config import Settings
from db import engines
from tests.factories import insert_claims, make_valid_claims
from tests.workers import ROOT

CLI = [sys.executable, "-m", "claims_tasks.cli"]


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env={**os.environ, **(env or {})}
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_init_creates_missing_databases_and_is_safe_twice(test_env: dict[str, str], tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    base = test_env["CLAIMS_STAGING_DSN"].rsplit("/", 1)[0]
    env = {"CLAIMS_STAGING_DSN": f"{base}/ct_{tag}_s", "CLAIMS_PRODUCTION_DSN": f"{base}/ct_{tag}_p"}
    try:
        first = run("init", env=env, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert f"ct_{tag}_s" in first.stdout and f"ct_{tag}_p" in first.stdout
        second = run("init", env=env, cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert "none (already there)" in second.stdout
        with psycopg.connect(env["CLAIMS_STAGING_DSN"]) as conn:
            counts = [
                conn.execute(f"SELECT count(*) FROM staging.{t}").fetchone()
                for t in ("facilities", "payers", "financial_classes", "rvu_values")
            ]
        assert all(c is not None and c[0] > 0 for c in counts)
    finally:
        engines.drop_database(env["CLAIMS_STAGING_DSN"])
        engines.drop_database(env["CLAIMS_PRODUCTION_DSN"])


def test_init_writes_a_development_key_when_none_is_set(test_env: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CLAIMS_ENCRYPTION_KEY"}
    env["APP_ENV"] = "development"
    proc = subprocess.run([*CLI, "init"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    dotenv = (tmp_path / ".env").read_text()
    assert dotenv.startswith("CLAIMS_ENCRYPTION_KEY=")
    assert oct((tmp_path / ".env").stat().st_mode & 0o777) == "0o600"


def test_reconcile_json_and_exit_status(
    clean: Settings, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    from claims_tasks.dispatch import dispatch
    from claims_tasks.pipeline import process_chunk
    from claims_tasks.resources import build_resources

    insert_claims(staging, make_valid_claims(staging, 10, facilities=1))
    chunks: list[tuple[str, int, list[str]]] = []
    result = dispatch(
        clean.staging_dsn,
        lambda b, s, ids, _priority: chunks.append((b, s, ids)),
        shards=clean.shards,
        chunk_size=100,
        page_size=100,
    )
    assert result is not None

    in_flight = json.loads(run("reconcile", "--json").stdout)
    assert in_flight["states"]["queued"] == 10 and in_flight["ok"] is False

    res = build_resources(clean)
    try:
        for batch_id, _shard, ids in chunks:
            process_chunk(res, batch_id, ids)
    finally:
        res.close()
    ok = run("reconcile", "--batch", result.batch_id, "--json")
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["ok"] is True and doc["total"] == 10 and doc["states"]["done"] == 10
    assert {"total", "states", "missing", "duplicates", "ok"} <= set(doc)

    production.execute("DELETE FROM claims WHERE claim_id = (SELECT min(claim_id) FROM claims)")
    lost = run("reconcile", "--json")
    assert lost.returncode == 1
    assert json.loads(lost.stdout)["missing"] == 1
    assert json.loads(lost.stdout)["ok"] is False


@pytest.mark.parametrize(
    ("env", "needles"),
    [
        (
            {"CLAIMS_STAGING_DSN": "postgresql://postgres@127.0.0.1:1/staging_process"},
            ("staging database", "127.0.0.1:1/staging_process", "unreachable"),
        ),
        ({"CLAIMS_PRODUCTION_DSN": "mysql://root@localhost/x"}, ("CLAIMS_PRODUCTION_DSN", "postgresql://")),
        ({"CLAIMS_SHARDS": "many"}, ("CLAIMS_SHARDS",)),
    ],
)
def test_bad_settings_give_one_line(test_env: dict[str, str], env: dict[str, str], needles: tuple[str, ...]) -> None:
    assert_one_line_error(run("reconcile", env=env), *needles)


def test_unreachable_broker_gives_one_line_and_queues_nothing(clean: Settings, staging: psycopg.Connection) -> None:
    insert_claims(staging, make_valid_claims(staging, 5, facilities=1))
    proc = run("dispatch", env={"CLAIMS_BROKER_URL": "redis://127.0.0.1:1/0"})
    assert_one_line_error(proc, "broker", "127.0.0.1:1")
    assert staging.execute("SELECT count(*) FROM staging.claims WHERE status = 'new'").fetchone() == (5,)


def test_worker_without_a_key_refuses_to_start(test_env: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CLAIMS_ENCRYPTION_KEY"}
    proc = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "claims_tasks", "worker", "-c", "1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "CLAIMS_ENCRYPTION_KEY is not set" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_watch_unknown_batch(test_env: dict[str, str]) -> None:
    assert_one_line_error(run("watch", "b-nope", "--timeout", "2"), "no batch 'b-nope'")
