"""The fleet's part in the lifecycle, with real processes: beat has a worker refresh the analytics views; a
worker consumes the queues CLAIMS_WORKER_QUEUES names (and refuses to start on one that does not exist)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from claims_tasks.config import Settings
from claims_tasks.errors import ConfigError
from claims_tasks.worker_queues import resolve
from tests.workers import ROOT, WorkerProcess

pytestmark = pytest.mark.slow


def _refreshed_at(production: psycopg.Connection) -> dict[str, object]:
    return dict(production.execute("SELECT view_name, refreshed_at FROM analytics_refreshes").fetchall())


def test_beat_has_the_views_refreshed_by_a_worker_on_the_queues_it_was_given(
    clean: Settings, production: psycopg.Connection, tmp_path: Path
) -> None:
    from claims_tasks.celery_app import app

    before = _refreshed_at(production)
    env = {"CLAIMS_WORKER_QUEUES": "claims.dispatch,1", "CLAIMS_ANALYTICS_REFRESH_INTERVAL": "1"}
    worker = WorkerProcess(tmp_path / "worker.log", name="lifecycle", extra_env=env)
    beat_log = (tmp_path / "beat.log").open("wb")
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "claims_tasks", "beat", "--schedule", str(tmp_path / "schedule")],
        cwd=ROOT, stdout=beat_log, stderr=subprocess.STDOUT, env={**os.environ, **env},
    )  # fmt: skip
    try:
        worker.wait_ready()
        replies = app.control.inspect(timeout=3).active_queues() or {}
        mine = {name: sorted(q["name"] for q in queues) for name, queues in replies.items() if "lifecycle-" in name}
        assert list(mine.values()) == [["claims.dispatch", "claims.shard.1"]]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            after = _refreshed_at(production)
            if all(after[v] > before[v] for v in before):  # type: ignore[operator]
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"views not refreshed: {after}\n{worker.log.read_text()[-3000:]}")
    finally:
        beat.terminate()
        beat.wait(timeout=30)
        beat_log.close()
        worker.stop()


def test_a_worker_refuses_queues_that_do_not_exist(clean: Settings, tmp_path: Path) -> None:
    worker = WorkerProcess(tmp_path / "worker.log", name="badqueues", extra_env={"CLAIMS_WORKER_QUEUES": "0,7"})
    try:
        worker.proc.wait(timeout=60)
    finally:
        worker.stop()
    assert worker.proc.returncode != 0
    assert "CLAIMS_WORKER_QUEUES: shard 7 does not exist (CLAIMS_SHARDS=4)" in worker.log.read_text()


DECLARED = ["claims.dispatch", "claims.shard.0", "claims.shard.1", "claims.retry", "claims.dead_letter"]


@pytest.mark.parametrize(
    ("spec", "queues"),
    [(None, []), ("", []), (" 1 , 0,1", ["claims.shard.1", "claims.shard.0"]),
     ("0,claims.retry", ["claims.shard.0", "claims.retry"])],
)  # fmt: skip
def test_resolve(spec: str | None, queues: list[str]) -> None:
    assert resolve(spec, 2, DECLARED) == queues


@pytest.mark.parametrize("spec", ["2", "claims.nope", "-1"])
def test_resolve_refuses(spec: str) -> None:
    with pytest.raises(ConfigError, match="CLAIMS_WORKER_QUEUES"):
        resolve(spec, 2, DECLARED)
